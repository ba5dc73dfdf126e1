"""CSV cells: the one field-size limit for every reader, and formula neutralising.

`MAX_CELL` (1 MiB) is the largest cell a job may hold: anything bigger is a broken quote
or a file that is not a job. Our own files (reports, retry and undo jobs) may hold such
a cell with one more character, the apostrophe `neutralise` puts before a formula, so
the csv module's process-wide limit is set once, here, to `FIELD_LIMIT` = MAX_CELL + 1
for every reader alike: a cell one reader accepted can never make another one fail
(and a failed read of a report looks like a torn line).
"""

from __future__ import annotations

import csv

__all__ = ["FIELD_LIMIT", "MAX_CELL", "neutralise"]

MAX_CELL = 1 << 20
FIELD_LIMIT = MAX_CELL + 1

csv.field_size_limit(FIELD_LIMIT)

# A spreadsheet runs a cell starting with one of these as a formula (OWASP, CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """The cell as we write it: a NUL replaced, a formula made text by a leading `'`."""
    if "\x00" in cell:
        cell = cell.replace("\x00", "\ufffd")  # a NUL in a CSV breaks most readers
    return "'" + cell if cell.startswith(_FORMULA_START) else cell
