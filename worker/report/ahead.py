"""Rows finished ahead of the report: a snapshot on disk, so a kill -9 does not lose them.

The report is written in row order. A row that finishes while an earlier one is still
out (a slow reply, a backoff) waits in memory until the earlier one is done; a kill -9
then would lose its outcome, and `--resume` would send it again. `keep_ahead()` writes
the rows waiting so, every second while there are any, to `R.ahead` (atomically: the
whole snapshot, in the report's own line format). `--resume` reads it (`read_ahead`)
and keeps those rows as it keeps the report's, then deletes it.

Why a snapshot of one run, and not a log of every run: every line in it comes from the
run that was killed last, so it is newer than any report line for the same row, and
`--resume` can let it win without knowing which run wrote what. A run that starts
deletes the snapshot it read; one that ends normally deletes its own (by then every
row is in the report). The snapshot is bounded by the reorder window (5,000 rows).
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable
from pathlib import Path

from worker.core.cells import check_refusal
from worker.core.columns import Col
from worker.core.outcomes import FINAL_OUTCOMES, Result
from worker.files.atomic import atomic_write
from worker.files.runfiles import tmp_of
from worker.report.lines import is_whole
from worker.report.writer import result_line

__all__ = ["keep_ahead", "read_ahead"]

INTERVAL_S = 1.0


async def keep_ahead(path: Path, waiting: Callable[[], list[Result]],
                     interval_s: float = INTERVAL_S) -> None:
    """Until cancelled: every `interval_s`, write the final rows `waiting()` returns
    (those held for an earlier row) to `path` (`RunFiles.ahead`), or remove it when
    there are none."""
    shown: list[int] = []
    while True:
        await asyncio.sleep(interval_s)
        held = [r for r in waiting() if r.outcome in FINAL_OUTCOMES]
        rows = [r.row for r in held]
        if rows == shown:
            continue
        try:
            _write(path, held)
        except OSError:
            pass  # only a saving of requests on resume: the report's own errors matter
        shown = rows


def _write(path: Path, held: list[Result]) -> None:
    if not held:
        path.unlink(missing_ok=True)
        return
    # Whole, but not fsynced: it guards against a kill (the page cache outlives the
    # process), and an fsync here, every second, would stall the loop that sends.
    with atomic_write(path, tmp=tmp_of(path), durable=False) as f:  # RunFiles.ahead_tmp
        writer = csv.writer(f)
        for result in held:
            writer.writerow(result_line(result))


def read_ahead(path: Path, width: int) -> dict[int, list[str]]:
    """Row -> its line, from the snapshot a killed run left; {} if none. Lines that are
    not a report's (another width, no row number, an unknown outcome) are ignored."""
    try:
        f = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        return {}
    lines: dict[int, list[str]] = {}
    with f:
        try:
            for line in csv.reader(f):
                if is_whole(line, width):
                    lines[int(line[Col.ROW])] = line
        except (csv.Error, UnicodeDecodeError) as exc:
            if isinstance(exc, csv.Error):
                check_refusal(exc, str(path))  # ours, but over a host's lower csv limit
            return {}  # not ours: resume without it (the rows are sent again)
    return lines
