"""The undo job: the rows that put back what a change replaced, in the job format.

`undo_rows()` is the one rule, used by `run --undo-out` (state read before each first
change) and by `select --undo-out` (state as listed): per conversation, only the fields
that really changed get a row, each back to the value it had. An expired conversation
that was closed cannot be re-opened: that change goes to the not-restorable list with
the reason, instead of becoming a row that must fail.

Each row is guarded (`worker.core.guards`) by the value the change set: running the undo
job later puts back only what nobody changed since; a conversation someone changed in
between is reported `changed` with what it holds now, for the operator to decide.
"""

from __future__ import annotations

from pathlib import Path

from worker.core.columns import ID_COLUMN, JOB_COLUMNS
from worker.core.conversation import ConversationState
from worker.core.guards import EXPECT_ASSIGNEE, EXPECT_STATUS
from worker.files.csvdialect import CsvDialect
from worker.files.runfiles import not_restorable_of
from worker.jobfile.writer import JobWriter

__all__ = ["UNDO_HEADER", "undo_rows", "write_not_restorable"]

UNDO_HEADER = [*JOB_COLUMNS, EXPECT_STATUS, EXPECT_ASSIGNEE, "undo_note"]
_LOST_HEADER = [ID_COLUMN, "field", "value_before", "reason"]


def undo_rows(cid: int, prior: ConversationState, new_status: str | None,
              new_assignee: str | None, lost: list[list[str]]) -> list[list[object]]:
    """The rows that put back what changed (None: the field was not changed), each
    expecting the value the change set; a change that cannot be put back goes to `lost`
    with the reason."""
    rows: list[list[object]] = []
    was = prior.status
    if new_status is not None and new_status != was:
        if was == "open" and prior.is_expired:
            lost.append([str(cid), "status", was, "the conversation is expired: Partoo "
                         "cannot re-open an expired conversation"])
        else:
            rows.append([cid, was, "", new_status, "", f"was {was} before"])
    had = prior.assigned
    if new_assignee is not None and new_assignee != had:
        rows.append([cid, "", had, "", new_assignee, f"was assigned to {had} before"])
    return rows


def write_not_restorable(undo: Path, lost: list[list[str]], *, flag: str | None,
                         dialect: CsvDialect) -> Path:
    """The list beside the undo job `undo` (`UNDO.not-restorable.csv`), written as job
    files are (`worker.jobfile.writer`, in the undo job's `dialect`), or removed when
    nothing is lost. Its path. `flag`: as for `JobWriter` (None: an OSError propagates)."""
    path = not_restorable_of(undo)
    if not lost:
        path.unlink(missing_ok=True)
        return path
    with JobWriter(path, _LOST_HEADER, overwrite=True, flag=flag,
                   neutralise_cells=False, dialect=dialect) as writer:
        for line in lost:
            writer.write(line)
        writer.commit()
    return path
