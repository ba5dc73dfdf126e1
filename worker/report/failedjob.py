"""Turn a report's failed (and, if asked, skipped) rows back into a job file to re-run.

The new job is in the job format: `conversation_id`, `status`, `assigned_user_id`, then
the job's extra columns as the report holds them. Rows keep their order, since file
order decides which change to a conversation wins.

Two things are deliberate:
- A failed row that a *later* row of the same conversation and the same field (status,
  or assignee) overrode with `ok` is left out: sending it now would undo that later
  change (`worker.report.reader`, the rule `verify`, undo and `--resume` share).
  `RetryPicker` learns it while the report is counted, in the same one pass, and keeps
  the picked rows until then (the first in memory, the rest in a temporary file); memory
  grows with the conversations changed after the first picked row, not the report.
- Formula neutralisation (a leading `'`, see `worker.report.writer`) is undone for the cells
  that are sent, since the new run must send exactly what the first one did: the id
  (written as plain digits) and the user id. It is *kept* in the extra columns: they are
  only carried through, so nothing sent changes, the next report shows them as this one
  does, and the new file, which people open in spreadsheets, gets no live formula.
  One case is ambiguous: a user id that itself began with `'` then = + - @ loses that
  quote. Partoo's user ids are hexadecimal, so this is accepted.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from operator import itemgetter, lt
from pathlib import Path
from typing import IO, Protocol

from worker.core.columns import JOB_COLUMNS, Col
from worker.core.errors import ConfigError, ReportError
from worker.core.filepath import check_replaceable
from worker.core.operations import Field, parse_conversation_id
from worker.core.outcomes import Outcome
from worker.report.reader import LastOkRows, ReportFile, ReportRow, original, report_key

__all__ = ["RetryPicker", "RowSink", "check_out_path", "retry_header", "write_retry_rows"]

class RetryPicker:
    """Fed every row in order (`see_lines`, or `see`); keeps the picked rows, and knows
    which of them to write (`picked_rows`) and which are overridden. Use as a context
    manager: past `_IN_MEMORY` picked rows, they wait in an anonymous temporary file."""

    def __init__(self, report: ReportFile, outcomes: frozenset[Outcome]) -> None:
        self.report = report
        self.outcomes = outcomes
        self._picked_values = frozenset(o.value for o in outcomes)
        self.last_row = 0  # rows after this appeared later (a run still writing): ignored
        self.picked = 0
        self._last_ok = LastOkRows()
        self.overridden: set[int] = set()  # picked rows left out, found by write_retry_job
        self._kept: list[list[str]] = []  # the picked rows' cells, the first ones
        self._spill: IO[str] | None = None  # and the rest

    def __enter__(self) -> RetryPicker:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._spill is not None:
            self._spill.close()  # removed with it: the file has no name
            self._spill = None

    def see_lines(self, lines: list[list[str]]) -> None:
        """`see` for each of these whole report lines (`ReportFile.chunks`): only the
        rows that matter become a `ReportRow`, the picked ones and, once a row is picked,
        the ok rows that may override it (a later ok row of the same field)."""
        rows = list(map(int, map(_ROW_CELL, lines)))
        if rows and (rows[0] <= self.last_row or not all(map(lt, rows, rows[1:]))):
            for row in rows:  # out of order: find the row, and say so
                self._in_order(row)
        if rows:
            self.last_row = rows[-1]
        picked = self._picked_values
        for cells in lines:
            outcome = cells[_OUTCOME]
            if outcome in picked:
                self._pick(ReportRow.of(cells), cells)
            elif outcome == _OK and self.picked:
                self._last_ok.add(ReportRow.of(cells))

    def see(self, row: ReportRow) -> None:
        self._in_order(row.row)
        if row.outcome in self.outcomes:
            self._pick(row, None)
        elif self.picked:  # an ok row before any picked row overrides nothing
            self._last_ok.add(row)

    def _in_order(self, row: int) -> None:
        if row <= self.last_row:
            raise ReportError(f"{self.report.path}: row {row} comes after row "
                              f"{self.last_row}: the report is not in row order (sorted in "
                              "a spreadsheet?), and file order decides which change wins. "
                              "Use the report as partoo-bulk wrote it")
        self.last_row = row

    def picked_rows(self) -> Iterator[ReportRow]:
        """The picked rows, in order, once every row was seen."""
        if self._spill is not None:
            self._spill.seek(0)
            yield from map(ReportRow.of, csv.reader(self._spill))
        yield from map(ReportRow.of, self._kept)

    def _pick(self, row: ReportRow, cells: list[str] | None) -> None:
        _check_sendable(self.report, row)
        self.picked += 1
        cells = _cells(row) if cells is None else cells
        if len(self._kept) >= _IN_MEMORY:
            if self._spill is None:
                self._spill = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
            csv.writer(self._spill).writerows(self._kept)
            self._kept = []
        self._kept.append(cells)

    def wanted(self, row: ReportRow) -> bool:
        if row.outcome not in self.outcomes or row.row > self.last_row:
            return False
        # A later ok row of the same conversation and field overrode it: left out.
        if self._last_ok.superseded(report_key(row), row.row):
            self.overridden.add(row.row)
            return False
        return True


_IN_MEMORY = 10_000  # picked rows kept in memory; more wait on disk
_ROW_CELL = itemgetter(Col.ROW)
_OUTCOME, _OK = int(Col.OUTCOME), Outcome.OK.value


def _cells(row: ReportRow) -> list[str]:
    """A row's line again, for a row `see` was given without its cells."""
    cells = [""] * (int(Col.FAULT) + 1)
    cells[Col.ROW], cells[Col.CONVERSATION_ID] = str(row.row), row.conversation_id
    cells[Col.ACTION], cells[Col.VALUE] = row.action, row.value
    cells[Col.OUTCOME], cells[Col.HTTP_STATUS] = row.outcome.value, row.http_status
    cells[Col.ERROR] = row.error
    cells[Col.FAULT] = "" if row.fault is None else row.fault.value
    return cells + row.extras


def check_out_path(out: Path, report: Path, job: Path | None, overwrite: bool) -> None:
    """Refuse, before reading anything, an OUT that cannot or must not be written."""
    if out.is_dir():
        raise ConfigError(f"--failed {out}: is a folder: name the new job file, for "
                          f"example {out / 'retry.csv'}")
    check_replaceable(out, "--failed")
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


class RowSink(Protocol):
    """Where the rows go: the one job-file writer (`worker.jobfile.writer.JobWriter`)."""

    def write(self, cells: list[str]) -> None: ...


def retry_header(picker: RetryPicker) -> list[str]:
    """The new job's columns: the job format's, then the report's extra columns."""
    return [*JOB_COLUMNS, *picker.report.extra_columns]


def write_retry_rows(picker: RetryPicker, writer: RowSink) -> int:
    """The picked rows, as they must be sent (see the module docstring: the writer must
    not neutralise them again), to an open job writer. Returns how many."""
    report = picker.report
    written = 0
    for row in picker.picked_rows():
        if picker.wanted(row):
            writer.write(_job_cells(report, row))
            written += 1
    return written


def _job_cells(report: ReportFile, row: ReportRow) -> list[str]:
    action = row.act
    assert action is not None  # checked by RetryPicker.see
    cid = str(parse_conversation_id(original(row.conversation_id)))
    target = action.target(original(row.value))
    status, assignee = (target, "") if action.field is Field.STATUS else ("", target)
    return [cid, status, assignee, *row.extras]


def _check_sendable(report: ReportFile, row: ReportRow) -> None:
    """Refuse a picked row that could not have been sent: the report was changed."""
    try:
        parse_conversation_id(original(row.conversation_id))
    except ValueError as exc:
        raise ReportError(f"{report.path}, row {row.row}: a {row.outcome.value} row with "
                          f"{exc}: the report was changed (a spreadsheet turns long ids into "
                          "1.23E+15); use the file partoo-bulk wrote") from None
    if row.act is None:
        raise ReportError(f"{report.path}, row {row.row}: action {row.action!r} is not one "
                          "of close, open, assign, unassign: use the file partoo-bulk wrote")
