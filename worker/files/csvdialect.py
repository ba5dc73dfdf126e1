"""The CSV dialect of the files people open: the delimiter, and whether a BOM starts them.

French Excel splits a CSV on `;`, and reads it as UTF-8 only after a BOM (without one,
`é` shows as `Ã©`); a file written with `,` and no BOM opens there as one column. So the
CSV files we write for people (the report, the job files of `select`, `report --failed`
and the undo jobs) are written in the dialect of the file they come from, unless told
otherwise (`DialectChoice`, the `--csv-dialect` flag and the `csv_dialect` setting):

- `auto`: the report and the undo job take the job's dialect, `report --failed` the
  report's; `select`, which has no input file, writes `comma`;
- `excel-fr`: `;` and a BOM; `comma`: `,` and no BOM.

`auto` follows the delimiter and the BOM each on its own: English Excel's "CSV UTF-8" is
`,` with a BOM, LibreOffice's French default `;` without one.

Every reader of ours reads both delimiters, with or without a BOM. The delimiter is
decided once per file from its header line (`delimiter_of`, `of_report`), never per line:
the report is read on a 1,000,000-row hot path, and `csv.Sniffer` is unreliable on one
line anyway. Internal files nobody opens in a spreadsheet (`R.ahead`, the undo journal)
stay `comma`: only partoo-bulk reads them.
"""

from __future__ import annotations

import csv
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from worker.core.columns import REPORT_COLUMNS

__all__ = ["BOM", "COMMA", "EXCEL_FR", "CsvDialect", "DialectChoice", "delimiter_of",
           "has_bom", "of_report"]

BOM = "\ufeff"
_BOM_BYTES = BOM.encode("utf-8")
DELIMITERS = (",", ";")
_HEAD = 64 * 1024  # enough of a file's first line to decide its delimiter


@dataclass(frozen=True, slots=True)
class CsvDialect:
    """How a CSV file of ours is laid out: its `delimiter` (`,` or `;`) and whether it
    starts with a UTF-8 `bom`."""

    delimiter: str = ","
    bom: bool = False

    def start(self, f: IO[str]) -> None:
        """What goes before the header: the BOM, once, at the top of a new file."""
        if self.bom:
            f.write(BOM)

    def writer(self, f: IO[str], *, lineterminator: str = "\r\n") -> Any:
        """A `csv.writer` in this dialect (the csv module's own line end by default)."""
        return csv.writer(f, delimiter=self.delimiter, lineterminator=lineterminator)

    def describe(self) -> str:
        """In words, for a message: `';' with a BOM (excel-fr)`."""
        bom = "with a BOM" if self.bom else "without a BOM"
        name = {COMMA: " (comma)", EXCEL_FR: " (excel-fr)"}.get(self, "")
        return f"{self.delimiter!r} {bom}{name}"


COMMA = CsvDialect(",", False)
EXCEL_FR = CsvDialect(";", True)


class DialectChoice(enum.StrEnum):
    """What `--csv-dialect` (the `csv_dialect` setting) asks for."""

    AUTO = "auto"
    EXCEL_FR = "excel-fr"
    COMMA = "comma"

    def resolve(self, source: CsvDialect | None) -> CsvDialect:
        """The dialect to write: the one asked for, or with `auto` the `source` file's
        (the job's, the report's); `comma` when there is no source (`select`)."""
        if self is DialectChoice.EXCEL_FR:
            return EXCEL_FR
        if self is DialectChoice.COMMA:
            return COMMA
        return source or COMMA


def delimiter_of(header: str) -> str:
    """`;` when a header line has more semicolons than commas outside quotes, else `,`:
    the job reader's rule (a job's first column can be anything)."""
    outside = header.split('"')[::2]  # the parts between quoted sections
    commas = sum(p.count(",") for p in outside)
    semicolons = sum(p.count(";") for p in outside)
    return ";" if semicolons > commas else ","


def has_bom(path: Path) -> bool:
    """The file starts with a UTF-8 BOM (its readers open it with `utf-8-sig`)."""
    with open(path, "rb") as f:
        return f.read(len(_BOM_BYTES)) == _BOM_BYTES


def of_report(path: Path) -> CsvDialect:
    """A report's dialect, from its first bytes: its header starts with `row` and the
    delimiter (written by us, never quoted). A file whose first line does not (a job
    given as a report, say) gets the job's rule, so the report reader's header check
    can say what the file is. OSError propagates."""
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    bom = head.startswith(_BOM_BYTES)
    text = head[len(_BOM_BYTES) if bom else 0:].decode("utf-8", "replace")
    first = REPORT_COLUMNS[0]
    after = text[len(first):len(first) + 1]
    if text.startswith(first) and after in DELIMITERS:
        return CsvDialect(after, bom)
    return CsvDialect(delimiter_of(text.split("\n", 1)[0]), bom)
