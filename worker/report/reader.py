"""Read a finished (or interrupted) report back as rows with names: for `report`,
`verify`, the undo file and the retry job.

`open_report(path)` checks the header; `ReportFile.rows()` streams `ReportRow`s, so a
report of a million rows costs no more memory than one line, and can be called more than
once (count first, then write the failed rows). Which lines count, and what is refused
(`ReportError`, exit 2), is `worker.report.lines`'s rule: a damaged line in the middle
refuses; a damaged *last* line, the mark of a killed run, is left out and `torn` says so.
Rows need not be contiguous (a report filtered in a spreadsheet still counts).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from worker.core.columns import REPORT_COLUMNS, Col
from worker.core.operations import Action
from worker.core.outcomes import Fault, Outcome
from worker.report.lines import ReportLines, open_lines

__all__ = ["ReportFile", "ReportRow", "open_report"]


_OUTCOME_OF = {o.value: o for o in Outcome}  # a dict look-up, not an Enum call, per row
_WIDTH = len(REPORT_COLUMNS)
_new_row = tuple.__new__  # the named tuple's own constructor, without its Python wrapper
# `of` reads cells by position, in the order of `Col` (checked here, once).
assert (Col.ROW, Col.CONVERSATION_ID, Col.ACTION, Col.VALUE, Col.OUTCOME, Col.HTTP_STATUS,
        Col.ERROR, Col.FAULT) == (0, 1, 2, 3, 4, 5, 7, 10)
_fault_of = Fault.of


class ReportRow(NamedTuple):
    """A report line with names. A named tuple: `report` makes one per line, a million
    for a million rows, and a frozen dataclass costs several times as much to build."""

    row: int
    conversation_id: str
    action: str
    value: str
    outcome: Outcome
    http_status: str  # "" when no HTTP answer came back
    error: str
    extras: list[str]  # the job's extra columns, as the report holds them
    fault: Fault | None = None  # a failed row's, as the run decided it (`Fault`)

    @property
    def act(self) -> Action | None:
        """The row's action; None for an invalid row that never had one."""
        return Action.of(self.action)

    @classmethod
    def of(cls, cells: list[str]) -> ReportRow:
        """From a whole line (`worker.report.lines.is_whole`: its outcome is known)."""
        return _new_row(cls, (int(cells[0]), cells[1], cells[2], cells[3],
                              _OUTCOME_OF[cells[4]], cells[5], cells[7],
                              cells[_WIDTH:], _fault_of(cells[10])))


class ReportFile:
    def __init__(self, lines: ReportLines) -> None:
        self._lines = lines
        self.path = lines.path
        self.width = lines.width
        self.extra_columns = lines.extra_columns
        self.dialect = lines.dialect  # `report --failed` writes its job in it by default

    @property
    def torn(self) -> bool:
        """Set by rows(): the last line was cut short and left out."""
        return self._lines.torn

    def rows(self) -> Iterator[ReportRow]:
        """Every whole data line, in file order. Raises `ReportError` on a damaged one."""
        of = ReportRow.of
        for chunk in self._lines.chunks():
            yield from map(of, chunk)

    def chunks(self) -> Iterator[list[list[str]]]:
        """The same lines as cells, a list at a time (`ReportLines.chunks`): for readers
        that count most lines without a `ReportRow` each (`ReportStats.add_lines`)."""
        return self._lines.chunks()


def open_report(path: str | Path) -> ReportFile:
    """Open a report and check its header. Raises `ReportError` with the fix."""
    return ReportFile(open_lines(path))
