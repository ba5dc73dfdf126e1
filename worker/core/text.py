"""Text from elsewhere (the API, a job cell) made safe to print on a terminal: the one
escaping of control characters, for `report`, the text logs and any message."""

from __future__ import annotations

import re

__all__ = ["printable"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # newlines too: one group, one line


def printable(text: str) -> str:
    """`text` with each control character (CR, LF, ESC, BEL, C1...) as `\\xNN`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
