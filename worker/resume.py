"""Crash-safe bookkeeping for a report: what `--resume` needs, and nothing else.

Files, for a report R:
- `R`: the report. Append-only, in row order, flushed per line.
- `R.meta.json`: which job the report belongs to (`worker.runmeta`).
- `R.partial`: the new report while a resumed run writes it; it replaces R at the end.

On resume, rows whose outcome in R is final (ok, failed, invalid; or ok and invalid with
`--retry-failed`) are copied, not sent; the others are sent again. If a resumed run was
itself killed, R.partial (a complete prefix, rows 1..k) and R (rows after k) are first
consolidated into R. A half-written last line, the mark of a kill, is dropped.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from worker.errors import ReportError
from worker.jobfile import REPORT_COLUMNS
from worker.operations import Action, Operation
from worker.outcomes import FINAL_OUTCOMES, Outcome, Result

__all__ = [
    "carry_over",
    "consolidate",
    "count_kept",
    "last_row_per_field",
    "partial_path",
    "records",
]

def partial_path(report: Path) -> Path:
    return report.with_name(report.name + ".partial")


def records(path: Path, width: int) -> Iterator[list[str]]:
    """A report's data lines, checked; a torn last line (a killed writer) is dropped."""
    try:
        f = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise ReportError(f"{path}: cannot read ({exc.strerror})") from None
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return
        if tuple(header[: len(REPORT_COLUMNS)]) != REPORT_COLUMNS or len(header) != width:
            raise ReportError(f"{path}: not a report of this job (its header differs): "
                              "pass --overwrite to start again")
        expected, last, torn = 1, None, False
        try:
            for line in reader:
                if last is not None:
                    yield last  # a line followed by another was written whole
                    last = None
                if not _well_formed(line, expected, width):
                    torn = True  # a damaged line ends what we trust; the rest is re-sent
                    break
                last, expected = line, expected + 1
        except csv.Error:
            torn = True  # a quote left open by a kill
        # The final line is whole only if its newline made it to disk.
        if last is not None and (torn or ends_with_newline(path)):
            yield last


def _well_formed(line: list[str], row: int, width: int) -> bool:
    return (len(line) == width and line[0] == str(row)
            and line[4] in {o.value for o in Outcome})


def ends_with_newline(path: Path) -> bool:
    """Every report line ends with a newline: a last line without one was cut short."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def consolidate(report: Path, width: int) -> None:
    """After a resumed run was killed: R.partial (rows 1..k) + R (rows > k) -> R."""
    partial = partial_path(report)
    if not partial.exists():
        return
    tmp = report.with_name(report.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        with open(partial, encoding="utf-8", newline="") as f:
            writer.writerow(next(csv.reader(f)))
        last = 0
        for line in records(partial, width):
            writer.writerow(line)
            last = int(line[0])
        if report.exists():
            for line in records(report, width):
                if int(line[0]) > last:
                    writer.writerow(line)
    os.replace(tmp, report)
    partial.unlink()


def carry_over(items: Iterable[Operation | Result], old: Iterator[list[str]], *,
               retry_failed: bool,
               last_rows: dict[tuple[int, bool], int] | None = None,
               ahead: dict[int, list[str]] | None = None,
               ) -> Iterator[Operation | Result]:
    """Job items, with rows already final in the old report replaced by their old line.

    `ahead` (row -> line, from `worker.ahead`): rows the killed run had finished but not
    yet written; newer than the report's line for the same row, so they win.
    With `retry_failed`, a failed row is sent again unless a later row sets the same
    field of the same conversation (`last_rows`, from `last_row_per_field`): that later
    row decides the final state, and sending the earlier one now would undo it.
    """
    keep = FINAL_OUTCOMES - ({Outcome.FAILED} if retry_failed else set())
    ahead = ahead or {}
    line = next(old, None)
    for item in items:
        found = None
        if line is not None and int(line[0]) == item.row:
            found = line
            line = next(old, None)
        found = ahead.get(item.row, found)
        if found is None:
            yield item
            continue
        outcome = Outcome(found[4])
        superseded = (outcome is Outcome.FAILED and isinstance(item, Operation)
                      and last_rows is not None
                      and last_rows.get(_field(item), item.row) > item.row)
        if outcome in keep or superseded:
            yield Result(row=item.row, conversation_id=found[1], action=found[2],
                         value=found[3], outcome=outcome, line=found)
        else:
            yield item


def count_kept(report: Path, width: int, *, retry_failed: bool) -> tuple[int, int]:
    """(rows a resume keeps, of them rows that were sent): for the confirmation prompt.
    Run `consolidate` first. Failed rows that `--retry-failed` would keep (superseded by
    a later row) are counted as sent again: the prompt says "up to"."""
    if not report.exists():
        return 0, 0
    keep = FINAL_OUTCOMES - ({Outcome.FAILED} if retry_failed else set())
    kept = sent = 0
    for line in records(report, width):
        if line[4] in keep:
            kept += 1
            sent += line[4] != Outcome.INVALID
    return kept, sent


def last_row_per_field(items: Iterable[Operation | Result]) -> dict[tuple[int, bool], int]:
    """(conversation, is-a-status-row) -> the last row that sets it. One pass, for
    `--retry-failed` only: it holds an entry per conversation and field."""
    last: dict[tuple[int, bool], int] = {}
    for item in items:
        if isinstance(item, Operation):
            last[_field(item)] = item.row
    return last


def _field(op: Operation) -> tuple[int, bool]:
    return op.conversation_id, op.action in (Action.CLOSE, Action.OPEN)
