"""Turn a report's failed (and, if asked, skipped) rows back into a job file to re-run.

The new job is in the job format: `conversation_id`, `status`, `assigned_user_id`, then
the job's extra columns as the report holds them. Rows keep their order, since file
order decides which change to a conversation wins.

Two things are deliberate:
- A failed row that a *later* row of the same conversation and the same field (status,
  or assignee) overrode with `ok` is left out: sending it now would undo that later
  change. `RetryPicker` finds these while the report is counted, so the report is read
  twice in all (count, then write), and memory grows with the rows picked, not the report.
- Formula neutralisation (a leading `'`, see `worker.report`) is undone for the cells
  that are sent, since the new run must send exactly what the first one did: the id
  (written as plain digits) and the user id. It is *kept* in the extra columns: they are
  only carried through, so nothing sent changes, the next report shows them as this one
  does, and the new file, which people open in spreadsheets, gets no live formula.
  One case is ambiguous: a user id that itself began with `'` then = + - @ loses that
  quote. Partoo's user ids are hexadecimal, so this is accepted.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from worker.errors import ConfigError, ReportError
from worker.operations import parse_conversation_id
from worker.outcomes import Outcome
from worker.report import neutralise
from worker.reportfile import ReportFile, ReportRow

__all__ = ["RetryPicker", "check_out_path", "write_retry_job"]

_FIELD = {"close": "status", "open": "status", "assign": "assignee", "unassign": "assignee"}


class RetryPicker:
    """Fed every row in order; knows which rows to write and which are overridden."""

    def __init__(self, report: ReportFile, outcomes: frozenset[Outcome]) -> None:
        self.report = report
        self.outcomes = outcomes
        self.last_row = 0  # rows after this appeared later (a run still writing): ignored
        self.picked = 0
        self.overridden: set[int] = set()
        self._pending: dict[tuple[int, str], list[int]] = {}  # (id, field) -> rows picked

    def see(self, row: ReportRow) -> None:
        if row.row <= self.last_row:
            raise ReportError(f"{self.report.path}: row {row.row} comes after row "
                              f"{self.last_row}: the report is not in row order (sorted in "
                              "a spreadsheet?), and file order decides which change wins. "
                              "Use the report as partoo-bulk wrote it")
        self.last_row = row.row
        if row.outcome in self.outcomes:
            self._pending.setdefault(_key(self.report, row), []).append(row.row)
            self.picked += 1
        elif row.outcome is Outcome.OK and self._pending:
            rows = self._pending.pop(_key(self.report, row), None)
            if rows:
                self.overridden.update(rows)

    def wanted(self, row: ReportRow) -> bool:
        return (row.outcome in self.outcomes and row.row <= self.last_row
                and row.row not in self.overridden)


def check_out_path(out: Path, report: Path, job: Path | None, overwrite: bool) -> None:
    """Refuse, before reading anything, an OUT that cannot or must not be written."""
    if out.is_dir():
        raise ConfigError(f"--failed {out}: is a folder: name the new job file, for "
                          f"example {out / 'retry.csv'}")
    if not out.parent.is_dir():
        raise ConfigError(f"--failed {out}: the folder {out.parent} does not exist: create "
                          "it or choose another path")
    # Never these two, not even with --overwrite: they are the record of the run.
    taken = {report.resolve(): "the report itself"}
    if job is not None:
        taken[job.resolve()] = "the job file this report belongs to"
    if out.resolve() in taken:
        raise ConfigError(f"--failed {out}: that is {taken[out.resolve()]}: choose another "
                          "name, such as retry.csv")
    if out.exists() and not overwrite:
        raise ConfigError(f"--failed {out}: a file is already there: pass --overwrite to "
                          "replace it, or choose another name")


def write_retry_job(picker: RetryPicker, out: Path, *, overwrite: bool) -> int:
    """Write the picked rows to `out` (whole, or not at all). Returns how many."""
    report = picker.report
    header = ["conversation_id", "status", "assigned_user_id", *report.extra_columns]
    tmp = out.with_name(f".{out.name}.partial")
    written = 0
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            for row in report.rows():
                if row.row > picker.last_row:
                    break
                if picker.wanted(row):
                    writer.writerow(_job_cells(report, row))
                    written += 1
            f.flush()
            os.fsync(f.fileno())
        if out.exists() and not overwrite:  # appeared while we wrote
            raise ConfigError(f"--failed {out}: a file is already there: pass --overwrite "
                              "to replace it, or choose another name")
        os.replace(tmp, out)
    except OSError as exc:
        raise ConfigError(f"--failed {out}: cannot write the job file ({exc.strerror}): "
                          "check that the folder exists and is writable") from None
    finally:
        tmp.unlink(missing_ok=True)
    return written


def _job_cells(report: ReportFile, row: ReportRow) -> list[str]:
    cid = str(parse_conversation_id(_original(row.conversation_id)))
    status = {"close": "closed", "open": "open"}.get(row.action, "")
    assignee = {"assign": _original(row.value), "unassign": "unassigned"}.get(row.action, "")
    return [cid, status, assignee, *row.extras]


def _key(report: ReportFile, row: ReportRow) -> tuple[int, str]:
    """(conversation, field changed); refuses a row that could not have been sent."""
    try:
        cid = parse_conversation_id(_original(row.conversation_id))
    except ValueError as exc:
        raise ReportError(f"{report.path}, row {row.row}: a {row.outcome.value} row with "
                          f"{exc}: the report was changed (a spreadsheet turns long ids into "
                          "1.23E+15); use the file partoo-bulk wrote") from None
    if row.action not in _FIELD:
        raise ReportError(f"{report.path}, row {row.row}: action {row.action!r} is not one "
                          "of close, open, assign, unassign: use the file partoo-bulk wrote")
    return cid, _FIELD[row.action]


def _original(cell: str) -> str:
    """A cell as it was before the report neutralised it (only a quote before =+-@ etc.)."""
    if cell.startswith("'") and neutralise(cell[1:]) == cell:
        return cell[1:]
    return cell
