"""What kind of error a row's message is: the message with what is particular to one row
taken out (quoted values, numbers other than the leading HTTP status), so that
"conversation_id 'abc' is not ..." and "conversation_id '-5' is not ..." are one kind.

`report` groups a report's errors by it (`worker.report.stats`); a run counts its
failures (`worker.run.summary`) and its first refusals (`worker.sending.refusals`) by
it. A module of its own so that a run imports the rule, not the report's statistics.
"""

from __future__ import annotations

import re

__all__ = ["error_kind"]

_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?!\w)""")
# Numbers, but not an HTTP status quoted after ": " or "(" ("... too: 404 Resource not
# found", "(last: 500 Internal Server Error)"): that one names the kind of error.
_NUMBER = re.compile(r"(?<![\w.])(?!(?<=: )[1-5]\d\d )(?!(?<=\()[1-5]\d\d )\d+(?:\.\d+)?(?![\w.])")
_STATUS = re.compile(r"\d{3} ")


def error_kind(error: str) -> str:
    """The error without what is particular to one row: the key its group is found by."""
    status = _STATUS.match(error)
    head, rest = (error[: status.end()], error[status.end():]) if status else ("", error)
    return head + _NUMBER.sub("#", _QUOTED.sub("'…'", rest))
