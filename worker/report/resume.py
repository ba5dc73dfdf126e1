"""Crash-safe bookkeeping for a report: what `--resume` needs, and nothing else.

Files, for a report R:
- `R`: the report. Append-only, in row order, flushed per line.
- `R.meta.json`: which job the report belongs to (`worker.report.meta`).
- `R.partial`: the new report while a resumed run writes it; it replaces R at the end.

On resume, rows whose outcome in R is final (ok, failed, invalid; or ok and invalid with
`--retry-failed`) are copied, not sent; the others are sent again. If a resumed run was
itself killed, R.partial (a complete prefix, rows 1..k) and R (rows after k) are first
consolidated into R. A half-written last line, the mark of a kill, is dropped.

A report stays in one CSV dialect (`worker.files.csvdialect`) for its whole life: a
resumed run writes R.partial in R's (`dialect_of`), whatever `--csv-dialect` says, and
consolidating keeps R.partial's, which is R's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from worker.core.columns import REPORT_COLUMNS, Col
from worker.core.errors import ReportError
from worker.core.operations import Operation
from worker.core.outcomes import FINAL_OUTCOMES, Fault, Outcome, Result
from worker.files.atomic import atomic_write
from worker.files.csvdialect import CsvDialect
from worker.files.runfiles import RunFiles
from worker.report.keptcopy import copy_plain_kept
from worker.report.lastok import LastOkRows
from worker.report.lines import ReportLines, open_lines
from worker.report.reader import ReportRow
from worker.report.writer import ReportWriter

__all__ = [
    "KeptPrefix",
    "carry_over",
    "consolidate",
    "count_kept",
    "dialect_of",
    "last_ok_rows",
    "records",
]


def records(path: Path, width: int) -> Iterator[list[str]]:
    """The lines of an earlier report that a resume trusts (`ReportLines.prefix`)."""
    lines = _report_lines(path, width)
    return iter(()) if lines is None else lines.prefix()


def _report_lines(path: Path, width: int) -> ReportLines | None:
    """The earlier report, its header checked; None when it has none."""
    if path.stat().st_size == 0:
        return None  # killed before its header reached the disk
    lines = open_lines(path)
    if lines.width != width or tuple(lines.header[: len(REPORT_COLUMNS)]) != REPORT_COLUMNS:
        raise ReportError(f"{path}: not a report of this job (its header differs): "
                          "pass --overwrite to start again")
    return lines


def consolidate(report: Path, width: int) -> None:
    """After a resumed run was killed: R.partial (rows 1..k) + R (rows > k) -> R."""
    files = RunFiles(report)
    partial = files.partial
    if not partial.exists():
        return
    if partial.stat().st_size == 0:
        partial.unlink()  # killed before its header reached the disk: R is as it was
        return
    head = open_lines(partial)  # R's dialect, in which the resumed run wrote it
    try:
        with atomic_write(report, tmp=files.report_tmp) as out:
            head.dialect.start(out)
            writer = head.dialect.writer(out)
            writer.writerow(head.header)
            last = 0
            for line in records(partial, width):
                writer.writerow(line)
                last = int(line[Col.ROW])
            if report.exists():
                for line in records(report, width):
                    if int(line[Col.ROW]) > last:
                        writer.writerow(line)
    except OSError as exc:
        raise ReportError(f"{report}: cannot bring {partial.name} and the report together "
                          f"({exc.strerror}); both are kept as they were. Free space, then "
                          "resume again") from None
    partial.unlink()


def dialect_of(report: Path) -> CsvDialect | None:
    """The CSV dialect an earlier report is written in, for a resume to write on in it;
    None when there is none yet (no report, or killed before its header was written).
    Call after `consolidate`."""
    if not report.exists() or report.stat().st_size == 0:
        return None
    return open_lines(report).dialect


class KeptPrefix:
    """The leading lines of an earlier report that a resume keeps as they are: rows
    1..k, each ok or invalid (kept by any resume), none finished ahead. `write_to` copies
    them into the new report before the engine starts; `rest()` is the old report after
    them, for `carry_over`, and the job's first `rows` rows need not be parsed
    (`Job.items(skip=rows)`). So a report killed at 50% is read once, and its kept half
    is copied as bytes where its lines are plain (`worker.report.keptcopy`), else a CSV
    read and write per line, not a row's trip through the engine (bench/resume.py)."""

    def __init__(self, report: Path, width: int, *, ahead: dict[int, list[str]]) -> None:
        # The header is checked now, before anything is sent (`ReportError`).
        self._report = _report_lines(report, width) if report.exists() else None
        self._old: Iterator[list[str]] = iter(())
        # ok and invalid only: a kept failed row says what failed it (its fault, which
        # the summary counts), so it takes `carry_over`'s way, as a `Result`.
        self._keep = {o.value: o for o in (Outcome.OK, Outcome.INVALID)}
        self._ahead = ahead
        self._stopped_at: list[str] | None = None
        self.rows = 0
        self.outcomes: Counter[Outcome] = Counter()

    def write_to(self, writer: ReportWriter) -> None:
        """The kept lines, into the new report. OSError (disk full) propagates."""
        if self._report is None:
            return
        copied = copy_plain_kept(self._report.path, writer.header_line(),
                                 self._report.width, self._keep, self._ahead,
                                 writer.write_bytes)
        self.rows = copied.rows
        for value, count in copied.outcomes.items():
            self.outcomes[self._keep[value]] += count
        start = None if copied.resume_at is None else (copied.resume_at, copied.rows + 1)
        self._old = self._report.prefix(start)
        writer.write_lines(self._lines())

    def _lines(self) -> Iterator[list[str]]:
        keep, ahead, outcomes = self._keep, self._ahead, self.outcomes
        for line in self._old:  # rows 1, 2, 3... in sequence (`ReportLines.prefix`)
            outcome = keep.get(line[Col.OUTCOME])
            if outcome is None or self.rows + 1 in ahead:
                self._stopped_at = line
                return
            outcomes[outcome] += 1
            self.rows += 1
            yield line

    def rest(self) -> Iterator[list[str]]:
        if self._stopped_at is not None:
            yield self._stopped_at
        yield from self._old


def carry_over(items: Iterable[Operation | Result], old: Iterator[list[str]], *,
               retry_failed: bool,
               last_ok: LastOkRows | None = None,
               ahead: dict[int, list[str]] | None = None,
               ) -> Iterator[Operation | Result]:
    """Job items, with rows already final in the old report replaced by their old line.

    `ahead` (row -> line, from `worker.report.ahead`): rows the killed run had finished but not
    yet written; newer than the report's line for the same row, so they win.
    With `retry_failed`, a failed row is sent again unless a later row set the same field
    of the same conversation *with success* (`last_ok`, from `last_ok_rows`): the server
    holds that later change, and sending the earlier row now would undo it. A later row
    that failed too supersedes nothing: the field still holds neither.
    """
    keep = FINAL_OUTCOMES - ({Outcome.FAILED} if retry_failed else set())
    ahead = ahead or {}
    line = next(old, None)
    for item in items:
        found = None
        if line is not None and int(line[Col.ROW]) == item.row:
            found = line
            line = next(old, None)
        found = ahead.get(item.row, found)
        if found is None:
            yield item
            continue
        outcome = Outcome(found[Col.OUTCOME])
        superseded = (outcome is Outcome.FAILED and isinstance(item, Operation)
                      and last_ok is not None
                      and last_ok.superseded((item.conversation_id, item.action.field),
                                             item.row))
        if outcome in keep or superseded:
            yield Result(row=item.row, conversation_id=found[Col.CONVERSATION_ID],
                         action=found[Col.ACTION], value=found[Col.VALUE], outcome=outcome,
                         fault=Fault.of(found[Col.FAULT]), line=found)
        else:
            yield item


def count_kept(report: Path, width: int, *, retry_failed: bool) -> tuple[int, int]:
    """(rows a resume keeps, of them rows that were sent): for the confirmation prompt;
    (0, 0) without a report. Consolidates it first (`consolidate`). Failed rows that
    `--retry-failed` would keep (superseded by a later row) are counted as sent again:
    the prompt says "up to"."""
    consolidate(report, width)
    if not report.exists():
        return 0, 0
    keep = FINAL_OUTCOMES - ({Outcome.FAILED} if retry_failed else set())
    kept = sent = 0
    for line in records(report, width):
        if line[Col.OUTCOME] in keep:
            kept += 1
            sent += line[Col.OUTCOME] != Outcome.INVALID
    return kept, sent


def last_ok_rows(report: Path, width: int, ahead: dict[int, list[str]]) -> LastOkRows:
    """Per conversation and field, its last ok row: the report's lines in row order, each
    replaced by the line ahead for the same row if there is one (it is newer). One pass,
    for `--retry-failed` only: an entry per conversation and field set with success."""
    tracker = LastOkRows()
    pending = sorted(ahead)  # rows only ahead, merged in at their place
    i = 0
    for line in records(report, width) if report.exists() else iter(()):
        row = int(line[Col.ROW])
        while i < len(pending) and pending[i] <= row:
            if pending[i] < row:
                tracker.add(ReportRow.of(ahead[pending[i]]))
            i += 1
        tracker.add(ReportRow.of(ahead.get(row, line)))
    for row in pending[i:]:
        tracker.add(ReportRow.of(ahead[row]))
    return tracker
