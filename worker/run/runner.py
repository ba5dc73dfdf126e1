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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from worker.config import Settings
from worker.core.columns import REPORT_COLUMNS
from worker.core.errors import ConfigError, RunAborted, StartupError
from worker.core.outcomes import Result
from worker.jobfile.plan import Plan, make_plan
from worker.jobfile.reader import Job
from worker.partoo.client import PartooClient, open_session
from worker.partoo.preflight import check_reachable
from worker.report import meta as runmeta
from worker.report.writer import ReportWriter
from worker.run import ahead, outputs, resume, undo
from worker.run.progress import make_progress
from worker.run.signals import graceful_signals
from worker.run.summary import Summary
from worker.sending.aimd import Aimd
from worker.sending.breaker import Breaker
from worker.sending.engine import Engine
from worker.sending.ratelimit import RateLimiter
from worker.sending.readback import ReadBack
from worker.sending.retrypolicy import RetryPolicy

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

EXIT_OK, EXIT_FAILED, EXIT_ABORTED, EXIT_INTERRUPTED = 0, 1, 3, 130


@dataclass(frozen=True)
class RunRequest:
    job: Job
    settings: Settings
    report: Path
    resume: bool = False
    retry_failed: bool = False
    overwrite: bool = False
    yes: bool = False
    strict: bool = False
    undo_out: Path | None = None  # write an undo job here (reads each state first)
    quiet: bool = False
    drain_timeout_s: float = 10.0
    resume_hint: str = ""  # the command line that resumes this run


@dataclass
class RunResult:
    """What `run()` hands back: the exit code, the counts, and why it stopped, if it did."""

    exit_code: int
    summary: Summary
    wall_s: float
    stop_reason: str | None = None


def default_report_path(job_path: Path) -> Path:
    return job_path.with_name(job_path.stem + ".report.csv")


def run(req: RunRequest) -> RunResult:
    """Check, confirm, then send. Raises `StartupError` before anything is sent."""
    if req.settings.api_key is None:
        raise ConfigError("PARTOO_API_KEY is not set: set it to the key of the Partoo user "
                          "the changes are made as, without typing it on the command line "
                          "(e.g. `read -rs PARTOO_API_KEY && export PARTOO_API_KEY`); it is "
                          "never a flag, so it stays out of shell history and ps")
    resuming = outputs.prepare(req)
    # Reads the whole file: a bad byte at row 90,000 stops us here. Without a prompt to
    # show, only the counts (flat memory for a million rows).
    plan = make_plan(req.job, counts_only=req.yes)
    if req.strict and plan.invalid:
        raise StartupError(f"{req.job.path}: {plan.invalid} invalid row(s) and --strict: "
                           f"nothing was sent. First: {plan.invalid_examples[0]}. Fix them "
                           "(see `partoo-bulk plan JOB`) or drop --strict")
    asyncio.run(check_reachable(req.settings.base_url, req.settings.request_timeout_s))
    if not req.yes:
        _confirm(req, plan, _kept(req) if resuming else (0, 0))
    # Long-lived objects out of the collector's full passes (~10 ms stalls otherwise,
    # which at high rates bunch requests together).
    gc.collect()
    gc.freeze()
    try:
        return asyncio.run(_execute(req, resuming, plan.rows))
    finally:
        gc.unfreeze()


def _kept(req: RunRequest) -> tuple[int, int]:
    """On --resume: (rows the report already has and keeps, of them rows sent)."""
    width = len(REPORT_COLUMNS) + len(req.job.extra_columns)
    resume.consolidate(req.report, width)
    return resume.count_kept(req.report, width, retry_failed=req.retry_failed)


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


async def _execute(req: RunRequest, resuming: bool, total_rows: int) -> RunResult:
    s = req.settings
    assert s.api_key is not None
    width = len(REPORT_COLUMNS) + len(req.job.extra_columns)
    items = req.job.items()
    ahead_file = ahead.ahead_path(req.report)
    if resuming:
        resume.consolidate(req.report, width)
        old = resume.records(req.report, width) if req.report.exists() else iter(())
        last_rows = (resume.last_row_per_field(req.job.items()) if req.retry_failed
                     else None)
        # Read once, then gone: this run writes its own (see worker.run.ahead).
        finished_ahead = ahead.read_ahead(ahead_file, width)
        ahead_file.unlink(missing_ok=True)
        items = resume.carry_over(items, old, retry_failed=req.retry_failed,
                                  last_rows=last_rows, ahead=finished_ahead)
        out_path = resume.partial_path(req.report)
    else:
        runmeta.write_meta(req.report, outputs.job_meta(req), req.job.path)
        out_path = req.report
    limiter = RateLimiter(s.rate_per_minute, s.burst)
    policy = RetryPolicy(max_attempts=s.max_attempts, max_retry_after_s=s.max_retry_after_s,
                         rate_limit_budget_s=s.rate_limit_budget_s,
                         backoff_base_s=s.backoff_base_s, backoff_max_s=s.backoff_max_s)
    summary = Summary()
    started = time.monotonic()
    write_error: list[OSError] = []
    journal = (undo.UndoJournal(undo.journal_path(req.undo_out), keep=resuming)
               if req.undo_out else None)
    async with open_session(s.concurrency, s.request_timeout_s) as session:
        client = PartooClient(session, s.base_url, s.api_key, s.request_timeout_s)
        engine = Engine(client.update, limiter, policy, concurrency=s.concurrency,
                        aimd=Aimd(limiter),
                        breaker=Breaker(s.failure_window, s.failure_threshold),
                        capture=undo.StateCapture(client, journal) if journal else None,
                        read_back=ReadBack(client))
        with ReportWriter(out_path, req.job.extra_columns) as report, \
                make_progress(total_rows, summary, quiet=req.quiet) as progress:
            def emit(result: Result) -> None:
                if write_error:
                    return  # the run is being cancelled; these rows are re-sent on resume
                try:
                    report.write(result)
                except OSError as exc:
                    write_error.append(exc)
                    engine.cancel()
                    return
                summary.add(result)
                progress.add(result)

            snapshots = asyncio.create_task(ahead.keep_ahead(ahead_file, engine.waiting))
            try:
                with graceful_signals(engine, req.drain_timeout_s):
                    await engine.run(items, emit)
            finally:
                snapshots.cancel()
    if not write_error:
        ahead_file.unlink(missing_ok=True)  # every row is in the report now
    if write_error:
        raise RunAborted(f"{out_path}: writing the report failed after row "
                         f"{report.rows_written} ({write_error[0].strerror}); the run was "
                         f"stopped. Free space or fix the folder, then: {req.resume_hint}")
    if resuming:
        resume.partial_path(req.report).replace(req.report)
    wall = time.monotonic() - started
    print(summary.line(wall, str(req.report)), flush=True)
    if journal is not None and req.undo_out is not None:
        journal.close()
        _report_undo(req.undo_out, undo.write_undo(req.report, journal, req.undo_out))
    return RunResult(_exit_code(engine, summary, req), summary, wall, engine.stop_reason)


def _report_undo(path: Path, counts: undo.UndoCounts) -> None:
    print(f"undo: {counts.rows} rows restore {counts.conversations} conversations: {path}",
          flush=True)
    if counts.not_restorable:
        print(f"undo: {counts.not_restorable} change(s) cannot be undone (expired "
              f"conversations): {undo.not_restorable_path(path)}", file=sys.stderr)


def _exit_code(engine: Engine, summary: Summary, req: RunRequest) -> int:
    if engine.stop_reason is not None:
        verb = "aborted" if engine.aborted else "stopped"
        print(f"partoo-bulk: {verb}: {engine.stop_reason}", file=sys.stderr)
        if req.resume_hint:
            extra = " --retry-failed" if "circuit breaker" in engine.stop_reason else ""
            print(f"partoo-bulk: to finish the job: {req.resume_hint}{extra}", file=sys.stderr)
        return EXIT_ABORTED if engine.aborted else EXIT_INTERRUPTED
    if summary.outcomes["failed"] or summary.outcomes["invalid"]:
        return EXIT_FAILED
    return EXIT_OK
