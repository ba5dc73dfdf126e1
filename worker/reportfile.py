"""Read a finished (or interrupted) report back: for `partoo-bulk report`.

`open_report(path)` checks the header; `ReportFile.rows()` streams `ReportRow`s, so a
report of a million rows costs no more memory than one line. `rows()` can be called more
than once (count first, then write the failed rows).

What is refused (`ReportError`, exit 2): a file that is missing, unreadable, not UTF-8,
or whose header is not a report's. A damaged line in the middle refuses too: counts that
silently skip rows would mislead. A damaged *last* line is the mark of a run killed
while writing it (the report is otherwise whole): it is left out and `torn` says so.
Rows need not be contiguous (a report filtered in a spreadsheet still counts).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from worker.errors import ReportError
from worker.jobfile import REPORT_COLUMNS
from worker.outcomes import Outcome
from worker.resume import ends_with_newline

__all__ = ["ReportFile", "ReportRow", "open_report"]

_OUTCOMES = {o.value: o for o in Outcome}
_MAX_CELL = 1 << 21  # the job's cells may be 1 MiB; with the neutralising quote, a bit more


@dataclass(frozen=True, slots=True)
class ReportRow:
    row: int
    conversation_id: str
    action: str
    value: str
    outcome: Outcome
    http_status: str  # "" when no HTTP answer came back
    error: str
    extras: list[str]  # the job's extra columns, as the report holds them


class ReportFile:
    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self.width = len(header)
        self.extra_columns = tuple(header[len(REPORT_COLUMNS):])
        self.torn = False  # set by rows(): the last line was cut short and left out

    def rows(self) -> Iterator[ReportRow]:
        """Every whole data line, in file order. Raises `ReportError` on a damaged one."""
        records = _records(self.path)
        next(records)  # the header, checked by open_report
        self.torn = False
        pending: tuple[int, list[str]] | None = None
        for line, cells in records:
            if pending is not None:
                yield self._row(*pending)  # a line followed by another was written whole
            pending = (line, cells)
        if pending is None:
            return
        if ends_with_newline(self.path) and self._whole(pending[1]):
            yield self._row(*pending)
        else:
            self.torn = True

    def _whole(self, cells: list[str]) -> bool:
        return (len(cells) == self.width and cells[0].isascii() and cells[0].isdigit()
                and cells[4] in _OUTCOMES)

    def _row(self, line: int, cells: list[str]) -> ReportRow:
        if not self._whole(cells):
            raise ReportError(f"{self.path}, line {line}: not a report line (it should have "
                              f"{self.width} cells, a row number and an outcome): the report "
                              "was edited or damaged; use the file partoo-bulk wrote")
        return ReportRow(int(cells[0]), cells[1], cells[2], cells[3], _OUTCOMES[cells[4]],
                         cells[5], cells[7], cells[len(REPORT_COLUMNS):])


def open_report(path: str | Path) -> ReportFile:
    """Open a report and check its header. Raises `ReportError` with the fix."""
    path = Path(path)
    if not path.exists():
        raise ReportError(f"{path}: no such report: check the path (a run writes "
                          "JOB.report.csv beside the job file, or where --report said)")
    if path.is_dir():
        raise ReportError(f"{path}: is a folder, not a report")
    header = next(_records(path), (0, None))[1]
    if header is None:
        raise ReportError(f"{path}: the file is empty, so it is not a report: a run writes "
                          "the header line before anything else")
    if tuple(header[: len(REPORT_COLUMNS)]) != REPORT_COLUMNS:
        names = {h.strip().lower() for h in header}
        if "conversation_id" in names and "outcome" not in names:
            raise ReportError(f"{path}: this is a job file, not a report: the report of "
                              "`partoo-bulk run JOB` is JOB.report.csv (or the --report path)")
        raise ReportError(f"{path}, line 1: not a partoo-bulk report: its header should "
                          f"start with {','.join(REPORT_COLUMNS)}. If a spreadsheet saved "
                          "it again, use the file partoo-bulk wrote")
    return ReportFile(path, header)


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) per CSV record; read errors become `ReportError`."""
    csv.field_size_limit(max(csv.field_size_limit(), _MAX_CELL))
    try:
        # utf-8-sig: a report saved again with a BOM still reads; newline="" for csv.
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            try:
                for cells in reader:
                    yield reader.line_num, cells
            except UnicodeDecodeError:
                raise ReportError(f"{path}, near line {reader.line_num + 1}: not UTF-8 text, "
                                  "so not a report as partoo-bulk wrote it (a spreadsheet "
                                  "saved it again?): use the original file") from None
            except csv.Error as exc:
                raise ReportError(f"{path}, line {reader.line_num}: not a readable CSV "
                                  f"({exc}): use the file partoo-bulk wrote") from None
    except PermissionError:
        raise ReportError(f"{path}: permission denied: make the report readable") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the report ({exc.strerror})") from None


