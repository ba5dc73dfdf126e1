"""Read a finished (or interrupted) report back as rows with names: for `report`,
`verify`, the undo file and the retry job.

`open_report(path)` checks the header; `ReportFile.rows()` streams `ReportRow`s, so a
report of a million rows costs no more memory than one line, and can be called more than
once (count first, then write the failed rows). Which lines count, and what is refused
(`ReportError`, exit 2), is `worker.report.lines`'s rule: a damaged line in the middle
refuses; a damaged *last* line, the mark of a killed run, is left out and `torn` says so.
Rows need not be contiguous (a report filtered in a spreadsheet still counts).

`last_ok`, `LastOkRows`: the last `ok` row per conversation and field, what a report
says each field ended as.

File order decides a conversation's final state, and a status row and an assignment row
change different fields. So, per (conversation, field), the last row that came back `ok`
is what the server holds after the run; `verify` checks it, the undo file restores what
it replaced, and a failed row before it (`--resume --retry-failed`, `report --failed`) is
not sent again: it would undo that later change. One function, shared by all four.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from worker.core.cells import neutralise
from worker.core.columns import REPORT_COLUMNS, Col
from worker.core.operations import Action, Field, parse_conversation_id
from worker.core.outcomes import Fault, Outcome
from worker.report.lines import ReportLines, open_lines

__all__ = ["LastOk", "LastOkRows", "ReportFile", "ReportRow", "last_ok", "open_report",
           "original", "report_key"]


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


@dataclass(frozen=True, slots=True)
class LastOk:
    row: int
    target: str  # the field's value after that row: 'closed', 'open', a user id, 'unassigned'


class LastOkRows:
    """Fed a report's rows in order (`add`); `found` maps (conversation, field) to its
    last ok row. For callers that read the report for something else at the same time."""

    def __init__(self) -> None:
        self.found: dict[tuple[int, Field], LastOk] = {}

    def add(self, row: ReportRow) -> None:
        if row.outcome is not Outcome.OK:
            return
        key = report_key(row)
        action = row.act
        if key is not None and action is not None:
            self.found[key] = LastOk(row.row, action.target(original(row.value)))

    def superseded(self, key: tuple[int, Field] | None, row: int) -> bool:
        """Does a later ok row set the same field of the same conversation?"""
        later = self.found.get(key) if key is not None else None
        return later is not None and later.row > row


def last_ok(rows: Iterable[ReportRow]) -> dict[tuple[int, Field], LastOk]:
    """(conversation, field) -> its last ok row. Rows that cannot have been sent (no
    action, an id that is not one) are not ok rows and are passed over."""
    tracker = LastOkRows()
    for row in rows:
        tracker.add(row)
    return tracker.found


def report_key(row: ReportRow) -> tuple[int, Field] | None:
    """(conversation, field) a report row changes; None when it names no action or id."""
    action = row.act
    if action is None:
        return None
    try:
        return parse_conversation_id(original(row.conversation_id)), action.field
    except ValueError:
        return None


def original(cell: str) -> str:
    """A cell as it was before the report neutralised it (only a `'` before =+-@ etc.)."""
    if cell.startswith("'") and neutralise(cell[1:]) == cell:
        return cell[1:]
    return cell
