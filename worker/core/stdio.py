"""`-` for a path: stdin where a file is read (a job), stdout where one is written (`select
--out -`, `report --failed -`). The one marker, and the one test for it."""

from __future__ import annotations

__all__ = ["STDIO", "is_stdio"]

STDIO = "-"


def is_stdio(path: object) -> bool:
    """Does this path (a str or a Path) mean stdin or stdout?"""
    return str(path) == STDIO
