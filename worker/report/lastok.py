"""The last `ok` row per conversation and field: what a report says each field ended as.

File order decides a conversation's final state, and a status row and an assignment row
change different fields. So, per (conversation, field), the last row that came back `ok`
is what the server holds after the run; `verify` checks it, the undo file restores what
it replaced, and a failed row before it (`--resume --retry-failed`, `report --failed`) is
not sent again: it would undo that later change. One function, shared by all four.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from worker.core.cells import neutralise
from worker.core.operations import Field, parse_conversation_id
from worker.core.outcomes import Outcome
from worker.report.reader import ReportRow

__all__ = ["LastOk", "LastOkRows", "last_ok", "original", "report_key"]


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
