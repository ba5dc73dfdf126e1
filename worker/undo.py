"""Undo files: record each conversation's state before a run first changes it, then write
a job that puts back what the run changed.

- `UndoJournal` (`UNDO.journal.csv`): one line per conversation, appended and flushed
  *before* its first PATCH, so a kill -9 never loses a prior state, and `--resume` does
  not read the state again (it would read the run's own change).
- `StateCapture`: the engine's capture step, one `GET /conversations/{id}` per
  conversation, paced, retried and classified like every other request.
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
from typing import Any

from worker.client import PartooClient
from worker.errors import ReportError, Unexpected
from worker.operations import Operation
from worker.reportfile import open_report

__all__ = ["UNDO_HEADER", "Prior", "StateCapture", "UndoCounts", "UndoJournal",
           "journal_path", "not_restorable_path", "parse_prior", "undo_rows",
           "write_not_restorable", "write_undo"]

UNDO_HEADER = ["conversation_id", "status", "assigned_user_id", "undo_note"]

_JOURNAL_HEADER = ["conversation_id", "is_solved", "is_expired", "assigned_user_id"]


@dataclass(frozen=True, slots=True)
class Prior:
    is_solved: bool
    is_expired: bool
    assignee: str | None


def journal_path(undo: Path) -> Path:
    return undo.with_name(undo.name + ".journal.csv")


def not_restorable_path(undo: Path) -> Path:
    return undo.with_name(undo.name + ".not-restorable.csv")


def parse_prior(data: dict[str, Any]) -> Prior:
    conv = data.get("conversation", data) if isinstance(data, dict) else None
    if not isinstance(conv, dict) or not isinstance(conv.get("is_solved"), bool):
        raise Unexpected("the conversation's answer has no is_solved: cannot record the "
                         "state to undo; check PARTOO_BASE_URL", http_status=200)
    expired = conv.get("is_expired")
    if not isinstance(expired, bool):
        expired = conv.get("status") == "Closed"  # "Closed" means expired in Partoo
    assignee = conv.get("assigned_user_id")
    return Prior(conv["is_solved"], expired, assignee if isinstance(assignee, str) and
                 assignee else None)


class UndoJournal:
    def __init__(self, path: Path, *, keep: bool) -> None:
        self.path = path
        self.prior: dict[int, Prior] = _load(path) if keep and path.exists() else {}
        try:
            self._file = open(path, "a" if self.prior else "w",
                              encoding="utf-8", newline="")
        except OSError as exc:
            raise ReportError(f"{path}: cannot write the undo journal ({exc.strerror})") \
                from None
        self._writer = csv.writer(self._file)
        if not self.prior:
            self._writer.writerow(_JOURNAL_HEADER)
            self._file.flush()

    def needed(self, conversation_id: int) -> bool:
        return conversation_id not in self.prior

    def record(self, conversation_id: int, prior: Prior) -> None:
        self._writer.writerow([conversation_id, int(prior.is_solved), int(prior.is_expired),
                               prior.assignee or ""])
        self._file.flush()
        self.prior[conversation_id] = prior

    def close(self) -> None:
        self._file.close()


def _load(path: Path) -> dict[int, Prior]:
    text = path.read_text(encoding="utf-8")
    text = text[: text.rfind("\n") + 1]  # a torn last line (a kill) is dropped
    prior: dict[int, Prior] = {}
    for line in list(csv.reader(text.splitlines()))[1:]:
        if len(line) == 4 and line[0].isdigit():
            prior[int(line[0])] = Prior(line[1] == "1", line[2] == "1", line[3] or None)
    return prior


class StateCapture:
    """The engine's capture step: read a conversation once, before its first change."""

    def __init__(self, client: PartooClient, journal: UndoJournal) -> None:
        self._client = client
        self._journal = journal

    def needed(self, conversation_id: int) -> bool:
        return self._journal.needed(conversation_id)

    async def __call__(self, op: Operation) -> object:
        data = await self._client.get(f"/conversations/{op.conversation_id}")
        self._journal.record(op.conversation_id, parse_prior(data))
        return 200


@dataclass
class UndoCounts:
    rows: int = 0
    conversations: int = 0
    not_restorable: int = 0


def write_undo(report: Path, journal: UndoJournal, out: Path) -> UndoCounts:
    """Write the undo job (atomically) from the final report and the journal."""
    status: dict[int, str] = {}
    assignee: dict[int, str] = {}
    for line in open_report(report).rows():
        if line.outcome != "ok":
            continue
        cid, action = int(line.conversation_id), line.action
        if action in ("close", "open"):
            status[cid] = "closed" if action == "close" else "open"
        elif action in ("assign", "unassign"):
            assignee[cid] = line.value if action == "assign" else "unassigned"
    counts = UndoCounts()
    lost: list[list[str]] = []
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(UNDO_HEADER)
        for cid, prior in journal.prior.items():
            rows = undo_rows(cid, prior, status.get(cid), assignee.get(cid), lost)
            writer.writerows(rows)
            counts.rows += len(rows)
            counts.conversations += bool(rows)
    os.replace(tmp, out)
    counts.not_restorable = len(lost)
    write_not_restorable(not_restorable_path(out), lost)
    return counts


def undo_rows(cid: int, prior: Prior, new_status: str | None, new_assignee: str | None,
              lost: list[list[str]]) -> list[list[object]]:
    """The rows that put back what changed (None: the field was not changed); a change
    that cannot be put back goes to `lost` with the reason."""
    rows: list[list[object]] = []
    was = "closed" if prior.is_solved else "open"
    if new_status is not None and new_status != was:
        if was == "open" and prior.is_expired:
            lost.append([str(cid), "status", was, "the conversation is expired: Partoo "
                         "cannot re-open an expired conversation"])
        else:
            rows.append([cid, was, "", f"was {was} before"])
    had = prior.assignee or "unassigned"
    if new_assignee is not None and new_assignee != had:
        rows.append([cid, "", had, f"was assigned to {had} before"])
    return rows


def write_not_restorable(path: Path, lost: list[list[str]]) -> None:
    if not lost:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["conversation_id", "field", "value_before", "reason"])
        writer.writerows(lost)
