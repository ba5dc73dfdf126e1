"""Counted nouns in messages: "1 row", "3 rows", "1 retry", "2 retries". The one rule."""

from __future__ import annotations

__all__ = ["counted", "plural"]


def plural(count: int, noun: str, many: str = "") -> str:
    """`noun` for one, else `many` (by default `noun` + "s")."""
    return noun if count == 1 else many or noun + "s"


def counted(count: int, noun: str, many: str = "") -> str:
    """The count and its noun: `counted(3, "row")` is "3 rows"."""
    return f"{count} {plural(count, noun, many)}"
