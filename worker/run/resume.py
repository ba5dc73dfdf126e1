"""Crash-safe bookkeeping for a report: what `--resume` needs, and nothing else.

Files, for a report R:
- `R`: the report. Append-only, in row order, flushed per line.
- `R.meta.json`: which job the report belongs to (`worker.report.meta`).
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

from worker.core.columns import REPORT_COLUMNS, Col
from worker.core.errors import ReportError
from worker.core.operations import Action, Operation
from worker.core.outcomes import FINAL_OUTCOMES, Outcome, Result
from worker.report.lines import open_lines

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
    """The lines of an earlier report that a resume trusts (`ReportLines.prefix`)."""
    if path.stat().st_size == 0:
        return iter(())  # killed before its header reached the disk
    lines = open_lines(path)
    if lines.width != width or tuple(lines.header[: len(REPORT_COLUMNS)]) != REPORT_COLUMNS:
        raise ReportError(f"{path}: not a report of this job (its header differs): "
                          "pass --overwrite to start again")
    return lines.prefix()


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
            last = int(line[Col.ROW])
        if report.exists():
            for line in records(report, width):
                if int(line[Col.ROW]) > last:
                    writer.writerow(line)
    os.replace(tmp, report)
    partial.unlink()


def carry_over(items: Iterable[Operation | Result], old: Iterator[list[str]], *,
               retry_failed: bool,
               last_rows: dict[tuple[int, bool], int] | None = None,
               ahead: dict[int, list[str]] | None = None,
               ) -> Iterator[Operation | Result]:
    """Job items, with rows already final in the old report replaced by their old line.

    `ahead` (row -> line, from `worker.run.ahead`): rows the killed run had finished but not
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
        if line is not None and int(line[Col.ROW]) == item.row:
            found = line
            line = next(old, None)
        found = ahead.get(item.row, found)
        if found is None:
            yield item
            continue
        outcome = Outcome(found[Col.OUTCOME])
        superseded = (outcome is Outcome.FAILED and isinstance(item, Operation)
                      and last_rows is not None
                      and last_rows.get(_field(item), item.row) > item.row)
        if outcome in keep or superseded:
            yield Result(row=item.row, conversation_id=found[Col.CONVERSATION_ID],
                         action=found[Col.ACTION], value=found[Col.VALUE], outcome=outcome,
                         line=found)
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
        if line[Col.OUTCOME] in keep:
            kept += 1
            sent += line[Col.OUTCOME] != Outcome.INVALID
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
