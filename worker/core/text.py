"""Text for people: counted nouns ("1 row", "3 rows": the one rule), and text from
elsewhere (the API, a job cell) made safe to print on a terminal (the one escaping of
control characters, for `report`, the text logs and any message)."""

from __future__ import annotations

import re

__all__ = ["counted", "plural", "printable"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # newlines too: one group, one line


def printable(text: str) -> str:
    """`text` with each control character (CR, LF, ESC, BEL, C1...) as `\\xNN`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def plural(count: int, noun: str, many: str = "") -> str:
    """`noun` for one, else `many` (by default `noun` + "s")."""
    return noun if count == 1 else many or noun + "s"


def counted(count: int, noun: str, many: str = "") -> str:
    """The count and its noun: `counted(3, "row")` is "3 rows"."""
    return f"{count} {plural(count, noun, many)}"
