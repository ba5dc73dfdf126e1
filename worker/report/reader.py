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
from dataclasses import dataclass
from pathlib import Path

from worker.core.columns import REPORT_COLUMNS, Col
from worker.core.operations import Action
from worker.core.outcomes import Fault, Outcome
from worker.report.lines import ReportLines, open_lines

__all__ = ["ReportFile", "ReportRow", "open_report"]


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
    fault: Fault | None = None  # a failed row's, as the run decided it (`Fault`)

    @property
    def act(self) -> Action | None:
        """The row's action; None for an invalid row that never had one."""
        return Action.of(self.action)

    @classmethod
    def of(cls, cells: list[str]) -> ReportRow:
        return cls(int(cells[Col.ROW]), cells[Col.CONVERSATION_ID], cells[Col.ACTION],
                   cells[Col.VALUE], Outcome(cells[Col.OUTCOME]), cells[Col.HTTP_STATUS],
                   cells[Col.ERROR], cells[len(REPORT_COLUMNS):],
                   Fault.of(cells[Col.FAULT]))


class ReportFile:
    def __init__(self, lines: ReportLines) -> None:
        self._lines = lines
        self.path = lines.path
        self.width = lines.width
        self.extra_columns = lines.extra_columns

    @property
    def torn(self) -> bool:
        """Set by rows(): the last line was cut short and left out."""
        return self._lines.torn

    def rows(self) -> Iterator[ReportRow]:
        """Every whole data line, in file order. Raises `ReportError` on a damaged one."""
        for cells in self._lines.all():
            yield ReportRow.of(cells)


def open_report(path: str | Path) -> ReportFile:
    """Open a report and check its header. Raises `ReportError` with the fix."""
    return ReportFile(open_lines(path))
