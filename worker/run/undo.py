"""Undo files: record each conversation's state before a run first changes it, then write
a job that puts back what the run changed.

- `UndoJournal` (`UNDO.journal.csv`): one line per conversation, appended and flushed
  *before* its first PATCH, so a kill -9 never loses a prior state, and `--resume` does
  not read the state again (it would read the run's own change). It is the row's
  `Capture` (`worker.sending.row`): the row's capture step (`Step.CAPTURE`, or a guarded
  row's `Step.GUARD`: the same read) is one `GET /conversations/{id}` per conversation,
  paced, retried and classified like every other request.
- `write_undo()`: from the journal and the final report, a job file in the normal
  format restoring, per conversation, only the fields the run really changed (the last
  `ok` row's value differs from the prior one). An expired conversation that the run
  closed cannot be re-opened: it is listed in `UNDO.not-restorable.csv` with the reason
  instead of becoming a row that must fail.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from worker import logs
from worker.core.columns import ID_COLUMN
from worker.core.conversation import ConversationState
from worker.core.errors import ReportError, RunAborted
from worker.core.operations import Field, parse_conversation_id
from worker.core.text import counted, plural
from worker.files.atomic import open_nofollow
from worker.files.csvdialect import CsvDialect
from worker.files.runfiles import not_restorable_of
from worker.jobfile.undojob import UNDO_HEADER, undo_rows, write_not_restorable
from worker.jobfile.writer import JobWriter
from worker.report.reader import last_ok, open_report

__all__ = ["UndoCounts", "UndoJournal", "finish", "write_undo"]

_JOURNAL_HEADER = [ID_COLUMN, "is_solved", "is_expired", Field.ASSIGNEE.value]


class UndoJournal:
    """A write that fails (disk full) raises `RunAborted`: the row whose state could not
    be kept is not changed, and the run stops; every later `record` fails the same way."""

    def __init__(self, path: Path, *, keep: bool) -> None:
        self.path = path
        self.prior: dict[int, ConversationState] = (_load(path) if keep and path.exists()
                                                    else {})
        self._broken: str | None = None
        try:
            if self.prior:
                _drop_torn_line(path)  # or the next line would be glued to it
            # Never through a link left where the journal goes (worker.files.atomic).
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if self.prior else os.O_TRUNC)
            self._file = os.fdopen(open_nofollow(path, flags), "w", encoding="utf-8",
                                   newline="")
        except OSError as exc:
            raise ReportError(f"{path}: cannot write the undo journal ({exc.strerror})") \
                from None
        self._writer = csv.writer(self._file)
        if not self.prior:
            self._writer.writerow(_JOURNAL_HEADER)
            self._file.flush()

    def needed(self, conversation_id: int) -> bool:
        return conversation_id not in self.prior

    def record(self, conversation_id: int, prior: ConversationState) -> None:
        if self._broken is not None:
            raise RunAborted(self._broken)
        try:
            self._writer.writerow([conversation_id, int(prior.is_solved),
                                   int(prior.is_expired), prior.assignee or ""])
            self._file.flush()
        except OSError as exc:
            self._broken = f"{self.path}: writing the undo journal failed ({exc.strerror})"
            raise RunAborted(self._broken) from None
        self.prior[conversation_id] = prior

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass  # a failed write was reported when it happened; what is on disk is kept


def _drop_torn_line(path: Path) -> None:
    with os.fdopen(open_nofollow(path, os.O_RDWR), "rb+") as f:
        data = f.read()
        whole = data.rfind(b"\n") + 1
        if whole != len(data):
            f.truncate(whole)


def _load(path: Path) -> dict[int, ConversationState]:
    text = path.read_text(encoding="utf-8")
    text = text[: text.rfind("\n") + 1]  # a torn last line (a kill) is dropped
    prior: dict[int, ConversationState] = {}
    for line in list(csv.reader(text.splitlines()))[1:]:
        if len(line) != 4:
            continue
        try:
            cid = parse_conversation_id(line[0])
        except ValueError:
            continue  # not a line this journal wrote
        prior[cid] = ConversationState(line[1] == "1", line[2] == "1", line[3] or None)
    return prior


@dataclass
class UndoCounts:
    rows: int = 0
    conversations: int = 0
    not_restorable: int = 0


def finish(report: Path, journal: UndoJournal, out: Path, resume_hint: str, *,
           dialect: CsvDialect, quiet: bool = False) -> None:
    """At the end of a run: write the undo job (in `dialect`) and say what it restores
    (unless `quiet`: a canary's part says nothing, the whole run does). A write that
    fails (disk full) raises `RunAborted`: the journal is kept, and a resume writes it."""
    journal.close()
    try:
        counts = write_undo(report, journal, out, dialect=dialect)
    except OSError as exc:
        raise RunAborted(f"{out}: writing the undo job failed ({exc.strerror}); the report "
                         "is complete and the journal kept. Free space, then write it "
                         f"with: {resume_hint}") from None
    rows = counted(counts.rows, "row")
    convs = counted(counts.conversations, "conversation")
    if quiet:
        return
    print(f"undo: {rows} {plural(counts.rows, 'restores', 'restore')} {convs}: {out}", flush=True)
    if counts.not_restorable:
        logs.event("not_restorable", f"undo: {counts.not_restorable} change(s) cannot be "
                   f"undone (expired conversations): {not_restorable_of(out)}",
                   level=logs.WARNING, rows=counts.not_restorable)


def write_undo(report: Path, journal: UndoJournal, out: Path, *,
               dialect: CsvDialect) -> UndoCounts:
    """Write the undo job (whole or not at all, fsynced: `worker.jobfile.writer`, in
    `dialect`) from the final report and the journal. OSError propagates."""
    final = last_ok(open_report(report).rows())
    counts = UndoCounts()
    lost: list[list[str]] = []
    # The cells are as they must be sent back (ids, statuses, user ids): as they are.
    with JobWriter(out, UNDO_HEADER, overwrite=True, flag=None,
                   neutralise_cells=False, dialect=dialect) as writer:
        for cid, prior in journal.prior.items():
            status = final.get((cid, Field.STATUS))
            assignee = final.get((cid, Field.ASSIGNEE))
            rows = undo_rows(cid, prior, None if status is None else status.target,
                             None if assignee is None else assignee.target, lost)
            for row in rows:
                writer.write([str(c) for c in row])
            counts.rows += len(rows)
            counts.conversations += bool(rows)
        writer.commit()
    counts.not_restorable = len(lost)
    write_not_restorable(out, lost, flag=None, dialect=dialect)
    return counts
