"""CSV cells: the field-size limit our files need, and formula neutralising.

`MAX_CELL` (1 MiB) is the largest cell a job may hold: anything bigger is a broken quote
or a file that is not a job. Our own files (reports, retry and undo jobs) may hold such
a cell with one more character, the apostrophe `neutralise` puts before a formula, so
every reader of them needs the csv module's limit at `FIELD_LIMIT` = MAX_CELL + 1 at
least. That limit is the process's, one for every reader (a cell one reader accepted can
never make another one fail, and a failed read of a report looks like a torn line), so:

- in the program's own process `worker.core.process.claim` sets it once, to FIELD_LIMIT
  (`set_field_limit`), before anything is read;
- a program that imports `worker` keeps its own limit (Python's default is 128 KiB). A
  cell over it is not taken for a damaged file: `check_refusal` turns the csv module's
  refusal into a `ConfigError` that says what limit to set. The readers of jobs and
  reports call it first thing on a `csv.Error`.
"""

from __future__ import annotations

import csv

from worker.core.errors import ConfigError

__all__ = ["FIELD_LIMIT", "MAX_CELL", "check_refusal", "neutralise", "set_field_limit"]

MAX_CELL = 1 << 20
FIELD_LIMIT = MAX_CELL + 1
# How the csv module words a refusal (its C code: "field larger than field limit (%ld)");
# our readers' own check of MAX_CELL raises the same words without the number.
_REFUSED = "field larger than field limit ("


def set_field_limit() -> None:
    """The limit our files need, for the whole process: only the program's own."""
    csv.field_size_limit(FIELD_LIMIT)


def check_refusal(exc: csv.Error, where: str) -> None:
    """Raise `ConfigError` if the csv module refused a cell only because this process's
    limit is below FIELD_LIMIT (the limit of a program that imports `worker`): `where`
    (the file, the line) may hold a cell partoo-bulk itself reads. Otherwise return: the
    caller reports `exc` as the file's own fault."""
    limit = csv.field_size_limit()
    if limit < FIELD_LIMIT and str(exc).startswith(_REFUSED):
        raise ConfigError(
            f"{where}: a cell is longer than this process's csv field-size limit ({limit} "
            "characters; Python's default unless the program that imports worker set "
            f"another), and partoo-bulk reads cells of up to {FIELD_LIMIT}: call "
            f"csv.field_size_limit({FIELD_LIMIT}) (or more) in that program before the "
            "run, or run the partoo-bulk command, which sets it") from None


# A spreadsheet runs a cell starting with one of these as a formula (OWASP, CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """The cell as we write it: a NUL replaced, a formula made text by a leading `'`."""
    if "\x00" in cell:
        cell = cell.replace("\x00", "\ufffd")  # a NUL in a CSV breaks most readers
    return "'" + cell if cell.startswith(_FORMULA_START) else cell
