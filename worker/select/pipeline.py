"""`select`, end to end: list conversations, keep those that match, write a job file.

    pages (Lister: paced, retried, 429-aware) -> read_conversation (tolerant)
    -> Funnel (filters, counted) -> Target (the action cell) -> JobWriter (atomic)

Memory holds one page and a short window of recent ids, whatever the listing's size.
The counts per filter go to stderr, one summary line to stdout. Exit codes follow `run`:
0 the job file is written (even with no rows: `run` on it sends nothing); 2 could not
start (`StartupError`, nothing sent); 3 the listing had to stop (`RunAborted`: 401,
the API down, an answer that is not Partoo's) and no job file was written; 130 interrupted.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from worker.config import Settings
from worker.core.columns import ID_COLUMN
from worker.core.conversation import ConversationState, iso_utc
from worker.core.errors import RequestError, RunAborted, TransientError, Unauthorized
from worker.core.exitcodes import ExitCode, exit_code
from worker.core.filepath import is_stdio
from worker.core.guards import EXPECT_ASSIGNEE, EXPECT_NO_MESSAGE_AFTER, EXPECT_STATUS, UNASSIGNED
from worker.core.operations import Field
from worker.core.text import counted
from worker.files.csvdialect import CsvDialect
from worker.jobfile.undojob import (
    UNDO_HEADER,
    undo_rows,
    write_not_restorable,
)
from worker.jobfile.writer import JobWriter, check_out_path, open_job_writer
from worker.select.filters import Criteria, Funnel, build_funnel
from worker.select.listed import Listed, format_date, id_problem, read_conversation
from worker.select.pager import Lister, ListingStats
from worker.select.result import Selected
from worker.select.target import Target
from worker.sending.control import RunControl
from worker.sending.requester import Interrupted
from worker.sending.signals import DRAIN_TIMEOUT_S, graceful_signals
from worker.sending.stack import open_client, pacing

__all__ = ["CONTEXT_COLUMNS", "SelectRequest", "select"]

# Carried through by `run` to its report, after its own columns: what each conversation
# looked like when it was selected. None of these may be a report or action column name.
CONTEXT_COLUMNS = ("business_id", "business_name", "last_activity", "solved_before",
                   "assignee_before", "expired")
_PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class SelectRequest:
    settings: Settings
    criteria: Criteria
    target: Target
    out: Path
    overwrite: bool = False
    per_page: int = 100
    quiet: bool = False
    undo_out: Path | None = None  # also write the job that restores the listed state


def select(req: SelectRequest) -> Selected:
    """Check, list, write. Raises `StartupError` before anything is sent."""
    req.settings.require_api_key("select lists conversations as the Partoo user of the key")
    if not is_stdio(req.out):
        check_out_path(req.out, req.overwrite)
    if req.undo_out is not None:
        check_out_path(req.undo_out, req.overwrite, "--undo-out")
    return asyncio.run(_main(req))


async def _main(req: SelectRequest) -> Selected:
    """The listing runs as a task of the run control, so a signal stops it the way it
    stops a run (the request in flight finishes, a second signal cuts it); unwinding goes
    through the writer, which deletes its temporary file."""
    control = RunControl()
    listing = control.spawn(_select(req, control))
    with graceful_signals(control, DRAIN_TIMEOUT_S):
        try:
            return await listing
        except (asyncio.CancelledError, Interrupted):
            if control.stop is None:
                raise
    print(f"partoo-bulk: {control.stop.detail}: no job file was written", file=sys.stderr)
    return Selected(exit_code(control.stop, all_ok=True), str(req.out))


async def _select(req: SelectRequest, control: RunControl) -> Selected:
    s = req.settings
    host = urlsplit(s.base_url).netloc
    guard = pacing(s)
    funnel = build_funnel(req.criteria, req.target)
    guards = guard_cells(req.criteria)
    header = [ID_COLUMN, req.target.column, *guards, *CONTEXT_COLUMNS]
    listed = unreadable = 0
    first_unusable: str | None = None
    progress = _Progress(None if req.quiet else sys.stderr)
    started = time.monotonic()
    async with open_client(s, connections=1) as client:
        requests = guard.requester(control, items="pages")
        lister = Lister(client.get, requests, per_page=req.per_page,
                        businesses=tuple(sorted(req.criteria.businesses)))
        # No file to follow: comma unless --csv-dialect (csv_dialect) says otherwise.
        dialect = s.csv_dialect.resolve(None)
        with open_job_writer(req.out, header, overwrite=req.overwrite,
                             dialect=dialect) as writer, \
                _UndoWriter(req.undo_out, req.target, req.overwrite, dialect) as undo_writer:
            try:
                async for page in lister.pages():
                    if control.stopping:
                        raise Interrupted()  # the page in flight came back; stop here
                    listed += len(page)
                    for raw in page:
                        conv = read_conversation(raw)
                        if conv is None:
                            unreadable += 1
                            first_unusable = first_unusable or id_problem(raw)
                        elif funnel.admit(conv):
                            cell = req.target.cell()
                            writer.write(_row(conv, cell, tuple(guards.values())))
                            undo_writer.add(conv, cell)
                    progress.page(lister.stats, listed, funnel.passed)
                writer.commit()
                undo_writer.commit()
            except RequestError as exc:
                raise _aborted(exc, lister.stats, host) from None
            except OSError as exc:
                raise RunAborted(f"--out {req.out}: writing the job file failed "
                                 f"({exc.strerror}); no job file was written") from None
    _print_counts(listed, lister.stats, unreadable, first_unusable, funnel, req.target, host,
                  guards)
    return Selected(ExitCode.OK, str(req.out), listed, unreadable, time.monotonic() - started,
                    lister.stats, funnel, req.target)


def guard_cells(criteria: Criteria) -> dict[str, str]:
    """The guard columns of a selected job and their value (the same on every row): what
    the filters asked of each conversation, for `run` to check again just before its
    change (`worker.core.guards`). Only the filters given: an empty dict for none."""
    cells: dict[str, str] = {}
    if criteria.solved is not None:
        cells[EXPECT_STATUS] = "closed" if criteria.solved else "open"
    if criteria.assigned_to is not None:
        cells[EXPECT_ASSIGNEE] = criteria.assigned_to
    elif criteria.unassigned:
        cells[EXPECT_ASSIGNEE] = UNASSIGNED
    if criteria.stale_before is not None:
        # Stale meant "no message after this moment": a message since makes it not so.
        cells[EXPECT_NO_MESSAGE_AFTER] = iso_utc(criteria.stale_before)
    return cells


def _row(conv: Listed, action_cell: str, guards: tuple[str, ...]) -> list[str]:
    def flag(value: bool | None) -> str:
        return "" if value is None else str(value).lower()

    assignee = "" if not conv.assignee_known else (conv.assignee or "unassigned")
    last = "" if conv.last_activity is None else format_date(conv.last_activity)
    return [str(conv.id), action_cell, *guards, conv.business_id or "", conv.business_name or "",
            last, flag(conv.is_solved), assignee, flag(conv.is_expired)]


class _UndoWriter:
    """`select --undo-out`: the listing holds each conversation's state already, so the
    job that puts it back is written from it, with no extra request."""

    def __init__(self, path: Path | None, target: Target, overwrite: bool,
                 dialect: CsvDialect) -> None:
        self._path, self._target, self._dialect = path, target, dialect
        self._writer = None if path is None else JobWriter(path, UNDO_HEADER,
                                                           overwrite=overwrite,
                                                           flag="--undo-out",
                                                           dialect=dialect)
        self._lost: list[list[str]] = []

    def __enter__(self) -> _UndoWriter:
        if self._writer is not None:
            self._writer.__enter__()
        return self

    def add(self, conv: Listed, cell: str) -> None:
        if self._writer is None:
            return
        is_status = self._target.action.field is Field.STATUS
        unknown = (conv.is_solved is None) if is_status else (not conv.assignee_known)
        if unknown:
            self._lost.append([str(conv.id), self._target.column, "",
                               "the listing did not say its state before"])
            return
        prior = ConversationState(bool(conv.is_solved), bool(conv.is_expired), conv.assignee)
        for row in undo_rows(conv.id, prior, cell if is_status else None,
                             None if is_status else cell, self._lost):
            self._writer.write([str(c) for c in row])

    def commit(self) -> None:
        if self._writer is not None and self._path is not None:
            self._writer.commit()
            write_not_restorable(self._path, self._lost, flag=None, dialect=self._dialect)

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.__exit__(*exc)  # type: ignore[arg-type]


def _aborted(exc: RequestError, stats: ListingStats, host: str) -> RunAborted:
    where = f"listing {host}, page {stats.pages + 1}"
    if isinstance(exc, Unauthorized):
        return RunAborted(f"{where}: the API answered {exc.message}; no job file was "
                          "written")
    again = ": run select again when the API answers" if isinstance(exc, TransientError) else ""
    return RunAborted(f"{where}: {exc.message} (after {counted(stats.requests, 'request')}); "
                      f"no job file was written{again}")


def _print_counts(listed: int, stats: ListingStats, unreadable: int, first: str | None,
                  funnel: Funnel, target: Target, host: str, guards: dict[str, str]) -> None:
    lines = [f"partoo-bulk select: {counted(listed, 'conversation')} listed from {host} in "
             f"{counted(stats.pages, 'page')}"]
    if unreadable:
        lines.append(f"  without a usable id: {unreadable} dropped, never written to the job "
                     f"(first: {first})")
    lines += funnel.lines()
    lines.append(f"  selected: {funnel.passed} ({target.describe()})")
    if guards:
        shown = ", ".join(f"{name}={value}" for name, value in guards.items())
        lines.append(f"  guarded: {shown} (run checks them just before each change)")
    print("\n".join(lines), file=sys.stderr)


class _Progress:
    """A plain line every few seconds on stderr, for listings that take minutes."""

    def __init__(self, out: TextIO | None) -> None:
        self._out = out
        self._last = time.monotonic()

    def page(self, stats: ListingStats, listed: int, selected: int) -> None:
        now = time.monotonic()
        if self._out is None or now - self._last < _PROGRESS_EVERY_S:
            return
        self._last = now
        of = f" of {stats.count}" if stats.count is not None else ""
        print(f"listing: {listed}{of} conversations in {counted(stats.pages, 'page')} "
              f"({stats.throttled} x 429), {selected} selected so far",
              file=self._out, flush=True)


