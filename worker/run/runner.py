"""A run, end to end: report files, confirmation, engine, signals, summary, exit code.

One async path, `arun`: the Python API awaits it on its caller's loop (`worker.api`);
`run` gives it a loop of its own for the CLI and the demo. `commands/run.py` builds a
`RunRequest` and calls `run()`. Its exit code is `worker.core.exitcodes.exit_code` of
its stop and rows (a `StartupError` is raised before anything is sent; a closed
`--finish-by` window is a stop too, exit 3, the rest `skipped` for --resume). Output
(the summary, undo and stop lines) only with `req.echo`.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from worker import logs
from worker.config import ca_files, proxy_for
from worker.core.columns import REPORT_COLUMNS
from worker.core.errors import RunAborted, StartupError
from worker.core.exitcodes import ExitCode, exit_code
from worker.core.operations import Operation
from worker.core.outcomes import Outcome, Result
from worker.files.atomic import publish
from worker.files.csvdialect import CsvDialect, DialectChoice
from worker.files.runfiles import resolve_link
from worker.jobfile.pinned import Pin, pinned
from worker.jobfile.plan import Plan, make_plan
from worker.jobfile.reader import Job
from worker.partoo.preflight import check_reachable
from worker.report import ahead, lock
from worker.report import meta as runmeta
from worker.report.writer import ReportWriter
from worker.run import outputs
from worker.run.progress import make_progress
from worker.run.request import RunRequest, RunResult
from worker.run.sink import ReportSink, hold_back
from worker.run.summary import ConcurrencyUse, Summary
from worker.sending.control import RunControl
from worker.sending.engine import Engine
from worker.sending.readback import ReadBack
from worker.sending.rowwork import RowWork
from worker.sending.signals import graceful_signals
from worker.sending.stack import open_client, pacing

# What only a resume, a prompt, --undo-out or --finish-by needs is imported where it is
# used: not on the way of every run to its first request.
if TYPE_CHECKING:
    from worker.report.resume import KeptPrefix
    from worker.run.undo import StateCapture, UndoJournal

__all__ = ["RunRequest", "arun", "default_report_path", "held", "run"]

_GC_NEW_OBJECTS = 10_000  # the collector's first generation, while a run sends


def default_report_path(job_path: Path) -> Path:
    return job_path.with_name(job_path.stem + ".report.csv")


def run(req: RunRequest) -> RunResult:
    """`arun` on a loop of its own (the CLI's): not from inside a running loop."""
    return asyncio.run(arun(req))


async def arun(req: RunRequest) -> RunResult:
    """Check, confirm, then send. Raises `StartupError` before anything is sent."""
    if req.hold is not None:
        return await _pinned_run(req)
    with held(req) as locked:
        return await _pinned_run(locked)


@contextmanager
def held(req: RunRequest) -> Iterator[RunRequest]:
    """The run's files taken to the files their links point to, checked, and locked for
    the block: the request to run under that lock (`locked`). A canary holds it for
    both its parts, the prompt between them included. Raises `StartupError`. A run
    refused before it starts leaves no lock file it made (`worker.report.lock`)."""
    req.settings.require_api_key("the changes are made as the Partoo user of the key")
    req = replace(req, report=resolve_link(req.report),
                  undo_out=None if req.undo_out is None else resolve_link(req.undo_out))
    outputs.check_folders(req)
    # One run per report, from before any output is touched until its last rename.
    with lock.hold(req.files) as hold:
        yield replace(req, hold=hold)


async def _pinned_run(req: RunRequest) -> RunResult:
    # The job read once, under the report's lock, and only that copy read after.
    with pinned(req.job, req.files, resume=req.resume) as pin:
        return await _arun(req, pin)


async def _arun(req: RunRequest, pin: Pin) -> RunResult:
    job = pin.job
    resuming = outputs.prepare(req, job)
    # Reads the whole file: a bad byte at row 90,000 stops us here. With no prompt to
    # show and no --strict, only the rows are counted (the run parses each one once);
    # otherwise the plan, in flat memory for a million rows with --yes.
    # A --finish-by window needs the requests counted (and with --undo-out the
    # conversations) to say whether the job fits.
    if req.yes and not req.strict and req.finish_by is None:
        plan = Plan(rows=_rows_of(req, job, resuming))
    else:
        plan = make_plan(job, counts_only=req.yes and req.undo_out is None)
    if req.strict and plan.invalid:
        raise StartupError(f"{job.path}: {plan.invalid} invalid row(s) and --strict: "
                           f"nothing was sent. First: {plan.invalid_examples[0]}. Fix them "
                           "(see `partoo-bulk plan JOB`) or drop --strict")
    await check_reachable(req.settings.base_url, req.settings.request_timeout_s,
                          proxy=proxy_for(req.settings), ca_files=ca_files(req.settings))
    if not req.yes or req.finish_by is not None:
        from worker.report.resume import count_kept

        width = len(REPORT_COLUMNS) + len(job.extra_columns)
        kept = (count_kept(req.report, width, retry_failed=req.retry_failed)
                if resuming else (0, 0))
        if not req.yes:
            from worker.run.ask import confirm_run

            confirm_run(req, plan, kept)
        elif req.echo:
            _say_window(req, plan, kept[1])
    if not resuming:
        outputs.clear(req)  # every check passed: only now does an earlier report go
    # The run starts: its side files are its own from here on, as a resume needs them.
    # Refused above, it leaves none it made (the job's copy, the lock files).
    pin.publish()
    assert req.hold is not None
    req.hold.keep()
    # Long-lived objects out of the collector's full passes (~10 ms stalls otherwise,
    # which at high rates bunch requests together), and its passes rarer: a row's
    # objects are freed by their reference counts, not by the collector, which at its
    # default (a pass every 700 new objects) cost 10 us of the 100 a request takes
    # (bench/overhead.py).
    with _SENDING_GC:
        return await _execute(req, job, resuming, plan.rows)


def _rows_of(req: RunRequest, job: Job, resuming: bool) -> int:
    """The job's row count. A resume takes it from the report's meta: the run that wrote
    the meta counted these very bytes (`outputs.prepare` checked their SHA-256), and the
    count of a million rows would come before the first request otherwise (bench/resume.py)."""
    known = runmeta.job_rows(req.report) if resuming else None
    return job.count_rows() if known is None else known


class _GcTuning:
    """The collector's tuning while any run of the process sends: process-wide state, so
    counted. The first run to start saves the host's thresholds and sets ours; the last
    to end puts the host's back, however runs overlap (threads, tasks of one loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._saved: tuple[int, int, int] | None = None

    def __enter__(self) -> None:
        with self._lock:
            self._runs += 1
            if self._runs == 1:
                self._saved = gc.get_threshold()
                # The young generations only: a full pass over everything the imports
                # made costs 25-60 ms of start-up, for the little garbage they leave.
                gc.collect(1)
                gc.freeze()
                gc.set_threshold(_GC_NEW_OBJECTS, *self._saved[1:])

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._runs -= 1
            if self._runs == 0 and self._saved is not None:
                gc.set_threshold(*self._saved)
                gc.unfreeze()
                self._saved = None


_SENDING_GC = _GcTuning()  # one count for the whole process


@dataclass
class _Inputs:
    """What the send step reads and where it writes: known before the first request."""

    items: Iterable[Operation | Result]
    out_path: Path  # the report, or R.partial while a resumed run rewrites it
    ahead_file: Path
    asked: CsvDialect  # --csv-dialect for this job: the undo job's, a new report's
    dialect: CsvDialect  # the report's (a resumed one keeps its own: `_report_dialect`)
    kept: KeptPrefix | None = None  # a resume's leading kept lines, copied first


def _open_inputs(req: RunRequest, job: Job, resuming: bool, total_rows: int) -> _Inputs:
    """The job's rows, with those an earlier report already settled carried over."""
    width = len(REPORT_COLUMNS) + len(job.extra_columns)
    ahead_file = req.files.ahead
    asked = req.settings.csv_dialect.resolve(job.dialect)
    if not resuming:
        runmeta.write_meta(req.report, outputs.job_meta(req, job), job.path, rows=total_rows)
        return _Inputs(hold_back(job.items(), req.canary), req.report, ahead_file, asked,
                       asked)
    from worker.report import resume

    resume.consolidate(req.report, width)
    dialect = _report_dialect(req, asked)
    runmeta.record_start(req.report, rows=total_rows)  # not ended until this run says so
    # Read once, then gone: this run writes its own (see worker.report.ahead).
    finished_ahead = ahead.read_ahead(ahead_file, width)
    ahead_file.unlink(missing_ok=True)
    last_ok = (resume.last_ok_rows(req.report, width, finished_ahead) if req.retry_failed
               else None)
    kept = resume.KeptPrefix(req.report, width, ahead=finished_ahead)

    def items() -> Iterator[Operation | Result]:
        # Started by the engine, once `_send` copied the kept lines: the job's rows
        # after them, the rest of the old report merged in.
        yield from resume.carry_over(job.items(skip=kept.rows), kept.rest(),
                                     retry_failed=req.retry_failed, last_ok=last_ok,
                                     ahead=finished_ahead)

    return _Inputs(hold_back(items(), req.canary), req.files.partial,
                   ahead_file, asked, dialect, kept)


def _report_dialect(req: RunRequest, asked: CsvDialect) -> CsvDialect:
    """A resumed report keeps the CSV dialect it has: one file in two dialects would
    open as garbage from the row where they meet. A dialect asked for that differs is
    said, not followed (the undo job, a new file, still follows it)."""
    from worker.report.resume import dialect_of

    existing = dialect_of(req.report)
    if existing is None:
        return asked
    choice = req.settings.csv_dialect
    if choice is not DialectChoice.AUTO and existing != asked and req.echo:
        logs.event("csv_dialect_kept", f"partoo-bulk: {req.report.name} is in "
                   f"{existing.describe()}: the resumed run goes on in it, not in "
                   f"{choice} (--csv-dialect): a report keeps one dialect from its first "
                   "line to its last", level=logs.WARNING, report=str(req.report),
                   csv_dialect=choice.value)
    return existing


async def _execute(req: RunRequest, job: Job, resuming: bool, total_rows: int) -> RunResult:
    inputs = _open_inputs(req, job, resuming, total_rows)
    summary = Summary()
    started = time.monotonic()
    control = RunControl()
    journal = None
    if req.files.journal:
        from worker.run.undo import UndoJournal

        journal = UndoJournal(req.files.journal, keep=resuming)
    sent: list[Result] = []
    failed = await _send(req, job, inputs, control, summary, journal, total_rows, sent)
    if failed is not None:
        error, rows = failed
        raise RunAborted(f"{inputs.out_path}: writing the report failed after row "
                         f"{rows} ({error.strerror}); the run was "
                         f"stopped. Free space or fix the folder, then: {req.resume_hint}")
    result = _finish(req, resuming, inputs, control, summary, journal,
                     time.monotonic() - started)
    result.canary = sent
    return result


def _say_window(req: RunRequest, plan: Plan, kept_sent: int) -> None:
    """With --yes there is no prompt: say in the log whether the job fits its window."""
    from worker.run.ask import window_of

    window = window_of(req)
    assert window is not None
    est = plan.estimate(req.settings.rate_per_minute, undo=req.undo_out is not None,
                        kept_sent=kept_sent, window_s=window[1])
    if est.fits and req.quiet:
        return  # nothing to act on
    logs.event("window", f"partoo-bulk: {est.describe_window(window[0])}",
               level=logs.INFO if est.fits else logs.WARNING, fits=est.fits,
               rows_to_send=est.rows, rows_reached=est.rows_reached,
               estimated_duration_s=round(est.duration_s, 1),
               window_s=round(window[1], 1))


def _open_window(req: RunRequest, control: RunControl) -> list[asyncio.TimerHandle]:
    """--finish-by: the window closes at WHEN (no request starts after it); the requests
    then in flight get the drain time an interrupt gives them, then are cut."""
    if req.finish_by is None:
        return []
    from worker.config.finishby import seconds_left, shown

    loop = asyncio.get_running_loop()
    closes = loop.time() + seconds_left(req.finish_by)
    detail = (f"the window closed at {shown(req.finish_by)} (--finish-by): the rows not "
              "sent wait for --resume")
    return [control.close_window_at(closes, detail),
            loop.call_at(closes + req.drain_timeout_s, control.cancel)]


def _capture(journal: UndoJournal | None) -> StateCapture | None:
    """--undo-out: what each row's work records before its change."""
    if journal is None:
        return None
    from worker.run.undo import StateCapture

    return StateCapture(journal)


async def _send(req: RunRequest, job: Job, inputs: _Inputs, control: RunControl,
                summary: Summary, journal: UndoJournal | None, total_rows: int,
                sent: list[Result]) -> tuple[OSError, int] | None:
    """Every row through the engine into the report; the write error, if one stopped it."""
    s = req.settings
    guard = pacing(s)
    async with open_client(s) as client:
        work = RowWork(client.update, guard.limiter, guard.policy, control, aimd=guard.aimd,
                       breaker=guard.breaker, refusals=guard.refusals,
                       capture=_capture(journal),
                       read_back=ReadBack(client), concurrency=guard.concurrency,
                       guards=req.guards, stall=guard.stall)
        engine = Engine(work, control, concurrency=guard.concurrency)
        with ReportWriter(inputs.out_path, job.extra_columns,
                          dialect=inputs.dialect) as report, \
                make_progress(total_rows, summary, quiet=req.quiet,
                              concurrency=guard.concurrency) as progress:
            if inputs.kept is not None:
                try:
                    inputs.kept.write_to(report)
                    report.flush()
                except OSError as exc:  # disk full: as the sink reports a failed write
                    return exc, report.rows_flushed
                summary.carry(inputs.kept.outcomes)
            sink = ReportSink(report, summary, progress, control)
            sink.sent = sent if req.canary else None
            snapshots = asyncio.create_task(ahead.keep_ahead(inputs.ahead_file,
                                                             engine.waiting))
            window = _open_window(req, control)
            try:
                with graceful_signals(control, req.drain_timeout_s,
                                      enabled=req.handle_signals):
                    await engine.run(inputs.items, sink, first_row=1 + (
                        0 if inputs.kept is None else inputs.kept.rows))
            finally:
                snapshots.cancel()
                for timer in window:
                    timer.cancel()
                gate = guard.concurrency
                summary.concurrency = ConcurrencyUse(gate.cap, gate.most_busy,
                                                     gate.cap_held())
    # The rows on disk: the writer flushed what it could when it closed.
    return None if sink.error is None else (sink.error, report.rows_flushed)


def _finish(req: RunRequest, resuming: bool, inputs: _Inputs, control: RunControl,
            summary: Summary, journal: UndoJournal | None, wall: float) -> RunResult:
    """Every row is in the report: put it in place, write the undo job, say how it went."""
    inputs.ahead_file.unlink(missing_ok=True)
    if resuming:
        publish(req.files.partial, req.report)
    runmeta.record_stop(req.report, None if control.stop is None else control.stop.reason.value)
    if req.earlier is not None:  # the canary's rows and requests belong to this run too
        summary.absorb(req.earlier.summary)
        wall += req.earlier.wall_s
    # A canary that went through says how it went itself, before the rest is sent.
    said_later = bool(req.canary) and control.stop is None
    if req.echo and not said_later:
        print(summary.line(wall, str(req.report)), flush=True)
    if journal is not None and req.undo_out is not None:
        from worker.run import undo

        undo.finish(req.report, journal, req.undo_out, req.resume_hint,
                    dialect=inputs.asked, quiet=said_later or not req.echo)
    return RunResult(_exit_code(control, summary, req), summary, wall, control.stop)


def _exit_code(control: RunControl, summary: Summary, req: RunRequest) -> ExitCode:
    """The run's exit code; with `req.echo`, the stop and the command that resumes."""
    stop = control.stop
    if stop is not None and req.echo:
        verb = "aborted" if stop.aborted else "stopped"
        command = ""
        if req.resume_hint:
            from worker.report.nextsteps import retry_failed_advised

            again = retry_failed_advised(stop.reason, summary.failed_on_outage)
            command = f"{req.resume_hint}{' --retry-failed' if again else ''}"
        logs.event(verb, f"partoo-bulk: {verb}: {stop.detail}",
                   level=logs.ERROR if stop.aborted else logs.WARNING,
                   stop_kind=stop.reason.value, resume_command=command or None)
        if command:
            logs.event("resume_hint", f"partoo-bulk: to finish the job: {command}",
                       level=logs.INFO, resume_command=command)
    o = summary.outcomes
    return exit_code(stop, all_ok=not (o[Outcome.FAILED] or o[Outcome.INVALID]))
