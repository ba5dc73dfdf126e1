"""The undo job: the rows that put back what a change replaced, in the job format.

`undo_rows()` is the one rule, used by `run --undo-out` (state read before each first
change) and by `select --undo-out` (state as listed): per conversation, only the fields
that really changed get a row, each back to the value it had. An expired conversation
that was closed cannot be re-opened: that change goes to the not-restorable list with
the reason, instead of becoming a row that must fail.
"""

from __future__ import annotations

import csv
from pathlib import Path

from worker.core.columns import ID_COLUMN, JOB_COLUMNS
from worker.core.conversation import ConversationState

__all__ = ["UNDO_HEADER", "not_restorable_path", "undo_rows", "write_not_restorable"]

UNDO_HEADER = [*JOB_COLUMNS, "undo_note"]


def not_restorable_path(undo: Path) -> Path:
    return undo.with_name(undo.name + ".not-restorable.csv")


def undo_rows(cid: int, prior: ConversationState, new_status: str | None,
              new_assignee: str | None, lost: list[list[str]]) -> list[list[object]]:
    """The rows that put back what changed (None: the field was not changed); a change
    that cannot be put back goes to `lost` with the reason."""
    rows: list[list[object]] = []
    was = prior.status
    if new_status is not None and new_status != was:
        if was == "open" and prior.is_expired:
            lost.append([str(cid), "status", was, "the conversation is expired: Partoo "
                         "cannot re-open an expired conversation"])
        else:
            rows.append([cid, was, "", f"was {was} before"])
    had = prior.assigned
    if new_assignee is not None and new_assignee != had:
        rows.append([cid, "", had, f"was assigned to {had} before"])
    return rows


def write_not_restorable(path: Path, lost: list[list[str]]) -> None:
    if not lost:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([ID_COLUMN, "field", "value_before", "reason"])
        writer.writerows(lost)
