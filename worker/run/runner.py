"""A run, end to end: report files, confirmation, engine, signals, summary, exit code.

`commands/run.py` builds a `RunRequest` and calls `run()`; the demo does the same with
the simulator's address. Exit codes: 0 all rows ok; 1 finished with failed or invalid
rows; 2 could not start (raised as `StartupError`, nothing sent); 3 aborted; 130
interrupted.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from worker.core.columns import REPORT_COLUMNS
from worker.core.errors import ConfigError, RunAborted, StartupError
from worker.core.operations import Operation
from worker.core.outcomes import Result
from worker.jobfile.plan import Plan, make_plan
from worker.jobfile.reader import Job
from worker.partoo.preflight import check_reachable
from worker.report import meta as runmeta
from worker.report.writer import ReportWriter
from worker.run import ahead, lock, outputs, resume, undo
from worker.run.pinned import pinned
from worker.run.progress import Progress, make_progress
from worker.run.request import (
    EXIT_ABORTED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    RunRequest,
    RunResult,
)
from worker.run.summary import Summary
from worker.sending.control import RunControl, StopReason
from worker.sending.engine import Engine
from worker.sending.readback import ReadBack
from worker.sending.rowwork import RowWork
from worker.sending.signals import graceful_signals
from worker.sending.stack import open_client, pacing

__all__ = [
    "EXIT_ABORTED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "RunRequest",
    "RunResult",
    "default_report_path",
    "run",
]

def default_report_path(job_path: Path) -> Path:
    return job_path.with_name(job_path.stem + ".report.csv")


def run(req: RunRequest) -> RunResult:
    """Check, confirm, then send. Raises `StartupError` before anything is sent."""
    if req.settings.api_key is None:
        raise ConfigError("PARTOO_API_KEY is not set: set it to the key of the Partoo user "
                          "the changes are made as, without typing it on the command line "
                          "(e.g. `read -rs PARTOO_API_KEY && export PARTOO_API_KEY`); it is "
                          "never a flag, so it stays out of shell history and ps")
    outputs.check_folders(req)
    # One run per report, from before any output is touched until its last rename; the
    # job read once, under that lock, and only that copy read after.
    with lock.hold(req.report, req.undo_out), \
            pinned(req.job, req.report, resume=req.resume) as job:
        return _run(req, job)


def _run(req: RunRequest, job: Job) -> RunResult:
    resuming = outputs.prepare(req, job)
    # Reads the whole file: a bad byte at row 90,000 stops us here. Without a prompt to
    # show, only the counts (flat memory for a million rows).
    plan = make_plan(job, counts_only=req.yes)
    if req.strict and plan.invalid:
        raise StartupError(f"{job.path}: {plan.invalid} invalid row(s) and --strict: "
                           f"nothing was sent. First: {plan.invalid_examples[0]}. Fix them "
                           "(see `partoo-bulk plan JOB`) or drop --strict")
    asyncio.run(check_reachable(req.settings.base_url, req.settings.request_timeout_s))
    if not req.yes:
        width = len(REPORT_COLUMNS) + len(job.extra_columns)
        _confirm(req, plan, resume.count_kept(req.report, width, retry_failed=req.retry_failed)
                 if resuming else (0, 0))
    # Long-lived objects out of the collector's full passes (~10 ms stalls otherwise,
    # which at high rates bunch requests together).
    gc.collect()
    gc.freeze()
    try:
        return asyncio.run(_execute(req, job, resuming, plan.rows))
    finally:
        gc.unfreeze()


def _confirm(req: RunRequest, plan: Plan, kept: tuple[int, int]) -> None:
    host = urlsplit(req.settings.base_url).netloc
    undo = req.undo_out is not None
    kept_rows, kept_sent = kept
    to_send = max(0, plan.total_requests(undo=undo) - kept_sent)
    up_to = "up to " if kept_rows else ""
    if not sys.stdin.isatty():
        raise StartupError(f"refusing to send {up_to}{to_send} requests to {host} without "
                           "confirmation: no terminal to ask on. Pass --yes (check the job "
                           "first with `partoo-bulk plan JOB`)")
    print(plan.describe(req.settings.rate_per_minute, undo=undo), file=sys.stderr)
    if kept_rows:
        print(f"resuming: {kept_rows} of these rows are done in {req.report} and are kept, "
              "not sent again", file=sys.stderr)
    try:
        answer = input(f"Send {up_to}{to_send} requests to {host}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise StartupError("cancelled: nothing was sent")


@dataclass
class _Inputs:
    """What the send step reads and where it writes: known before the first request."""

    items: Iterable[Operation | Result]
    out_path: Path  # the report, or R.partial while a resumed run rewrites it
    ahead_file: Path


def _open_inputs(req: RunRequest, job: Job, resuming: bool) -> _Inputs:
    """The job's rows, with those an earlier report already settled carried over."""
    width = len(REPORT_COLUMNS) + len(job.extra_columns)
    ahead_file = ahead.ahead_path(req.report)
    if not resuming:
        runmeta.write_meta(req.report, outputs.job_meta(req, job), job.path)
        return _Inputs(job.items(), req.report, ahead_file)
    resume.consolidate(req.report, width)
    runmeta.record_stop(req.report, None)  # until this run says otherwise (a kill -9)
    old = resume.records(req.report, width) if req.report.exists() else iter(())
    # Read once, then gone: this run writes its own (see worker.run.ahead).
    finished_ahead = ahead.read_ahead(ahead_file, width)
    ahead_file.unlink(missing_ok=True)
    last_ok = (resume.last_ok_rows(req.report, width, finished_ahead) if req.retry_failed
               else None)
    items = resume.carry_over(job.items(), old, retry_failed=req.retry_failed,
                              last_ok=last_ok, ahead=finished_ahead)
    return _Inputs(items, resume.partial_path(req.report), ahead_file)


class _ReportSink:
    """Where results arrive, in row order: the report line, then the counts and progress.

    A write that fails (disk full) cancels the run and is kept, to be raised once the
    engine is done; rows after it are not written (they are re-sent on resume).
    """

    def __init__(self, report: ReportWriter, summary: Summary, progress: Progress,
                 control: RunControl) -> None:
        self._report = report
        self._summary = summary
        self._progress = progress
        self._control = control
        self.error: OSError | None = None

    def __call__(self, result: Result) -> None:
        if self.error is not None:
            return
        try:
            self._report.write(result)
        except OSError as exc:
            self.error = exc
            self._control.cancel()
            return
        self._summary.add(result)
        self._progress.add(result)


async def _execute(req: RunRequest, job: Job, resuming: bool, total_rows: int) -> RunResult:
    inputs = _open_inputs(req, job, resuming)
    summary = Summary()
    started = time.monotonic()
    control = RunControl()
    journal = (undo.UndoJournal(undo.journal_path(req.undo_out), keep=resuming)
               if req.undo_out else None)
    error = await _send(req, job, inputs, control, summary, journal, total_rows)
    if error is not None:
        raise RunAborted(f"{inputs.out_path}: writing the report failed after row "
                         f"{summary.rows} ({error.strerror}); the run was "
                         f"stopped. Free space or fix the folder, then: {req.resume_hint}")
    return _finish(req, resuming, inputs, control, summary, journal,
                   time.monotonic() - started)


async def _send(req: RunRequest, job: Job, inputs: _Inputs, control: RunControl,
                summary: Summary,
                journal: undo.UndoJournal | None, total_rows: int) -> OSError | None:
    """Every row through the engine into the report; the write error, if one stopped it."""
    s = req.settings
    guard = pacing(s)
    async with open_client(s) as client:
        work = RowWork(client.update, guard.limiter, guard.policy, control, aimd=guard.aimd,
                       breaker=guard.breaker, refusals=guard.refusals,
                       capture=undo.StateCapture(client, journal) if journal else None,
                       read_back=ReadBack(client))
        engine = Engine(work, control, concurrency=s.concurrency)
        with ReportWriter(inputs.out_path, job.extra_columns) as report, \
                make_progress(total_rows, summary, quiet=req.quiet) as progress:
            sink = _ReportSink(report, summary, progress, control)
            snapshots = asyncio.create_task(ahead.keep_ahead(inputs.ahead_file,
                                                             engine.waiting))
            try:
                with graceful_signals(control, req.drain_timeout_s):
                    await engine.run(inputs.items, sink)
            finally:
                snapshots.cancel()
    return sink.error


def _finish(req: RunRequest, resuming: bool, inputs: _Inputs, control: RunControl,
            summary: Summary, journal: undo.UndoJournal | None, wall: float) -> RunResult:
    """Every row is in the report: put it in place, write the undo job, say how it went."""
    inputs.ahead_file.unlink(missing_ok=True)
    if resuming:
        resume.partial_path(req.report).replace(req.report)
    runmeta.record_stop(req.report, control.stop and control.stop.reason.value)
    print(summary.line(wall, str(req.report)), flush=True)
    if journal is not None and req.undo_out is not None:
        undo.finish(req.report, journal, req.undo_out, req.resume_hint)
    return RunResult(_exit_code(control, summary, req), summary, wall, control.stop)


def _exit_code(control: RunControl, summary: Summary, req: RunRequest) -> int:
    stop = control.stop
    if stop is not None:
        verb = "aborted" if stop.aborted else "stopped"
        print(f"partoo-bulk: {verb}: {stop.detail}", file=sys.stderr)
        if req.resume_hint:
            # The rows a breaker or a refusal stopped on failed for the run, not for
            # themselves: once the cause is fixed they go again.
            again = stop.reason in (StopReason.BREAKER, StopReason.REFUSED)
            extra = " --retry-failed" if again else ""
            print(f"partoo-bulk: to finish the job: {req.resume_hint}{extra}", file=sys.stderr)
        return EXIT_ABORTED if stop.aborted else EXIT_INTERRUPTED
    if summary.outcomes["failed"] or summary.outcomes["invalid"]:
        return EXIT_FAILED
    return EXIT_OK
