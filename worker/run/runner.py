"""A run, end to end: report files, confirmation, engine, signals, summary, exit code.

    arun(req) -> held(req): the paths resolved, the folders checked, the report locked
              -> pinned(job): the job read once, under the lock
              -> Run(req, pin).execute():
                   plan (count or estimate), --strict, preflight, confirmation
                   -> the report's earlier rows kept or cleared, the side files published
                   -> send: rows -> engine (`worker.sending`) -> report sink, in row order
                   -> finish: the report in place, the undo job, the summary line
                   -> exit_code(): the one rule of `worker.core.exitcodes`

One async path, `arun`: the Python API awaits it on its caller's loop (`worker.api`);
`run` gives it a loop of its own for the CLI and the demo. A `StartupError` is raised
before anything is sent; a closed `--finish-by` window is a stop too, the rest
`skipped` for --resume. Output (the summary, undo and stop lines) only with `req.echo`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from worker import logs
from worker.config import ca_files, proxy_for
from worker.core import process
from worker.core.columns import REPORT_COLUMNS
from worker.core.conversation import ConversationState
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
from worker.sending.row import RowWork
from worker.sending.signals import graceful_signals
from worker.sending.stack import open_client, pacing

# What only a resume, a prompt, --undo-out or --finish-by needs is imported where it is
# used: not on the way of every run to its first request.
if TYPE_CHECKING:
    from worker.report.resume import KeptPrefix
    from worker.run.undo import UndoJournal

__all__ = ["Run", "RunRequest", "arun", "default_report_path", "held", "run"]


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
        return await Run(req, pin).execute()


@dataclass
class _Inputs:
    """What the send step reads and where it writes: known before the first request."""

    items: Iterable[Operation | Result]
    out_path: Path  # the report, or R.partial while a resumed run rewrites it
    asked: CsvDialect  # --csv-dialect for this job: the undo job's, a new report's
    dialect: CsvDialect  # the report's (a resumed one keeps its own: `_report_dialect`)
    kept: KeptPrefix | None = None  # a resume's leading kept lines, copied first


class Run:
    """One run of a job, from its checks to its exit code: what the steps share (the
    request, the pinned job, the control every row reads, the counts, the undo journal)
    is the run's, not passed from function to function."""

    def __init__(self, req: RunRequest, pin: Pin) -> None:
        self.req = req
        self.pin = pin
        self.job: Job = pin.job
        self.control = RunControl()
        self.summary = Summary()
        self.resuming = False
        self.journal: UndoJournal | None = None
        self.sent: list[Result] = []  # a canary's rows, as they were reported

    async def execute(self) -> RunResult:
        """Check, confirm, then send. Raises `StartupError` before anything is sent."""
        req = self.req
        self.resuming = outputs.prepare(req, self.job)
        plan = self._plan()
        await check_reachable(req.settings.base_url, req.settings.request_timeout_s,
                              proxy=proxy_for(req.settings), ca_files=ca_files(req.settings))
        if not req.yes or req.finish_by is not None:
            self._confirm(plan)
        if not self.resuming:
            outputs.clear(req)  # every check passed: only now does an earlier report go
        # The run starts: its side files are its own from here on, as a resume needs
        # them. Refused above, it leaves none it made (the job's copy, the lock files).
        self.pin.publish()
        assert req.hold is not None
        req.hold.keep()
        # In the program's own process only: what the imports made, out of the
        # collector's full passes while the rows are sent (`worker.core.process`).
        process.settle()
        return await self._send_all(plan.rows)

    def _plan(self) -> Plan:
        """The job read whole: a bad byte at row 90,000 stops us here. With no prompt to
        show and no --strict, only the rows are counted (the run parses each one once);
        otherwise the plan, in flat memory for a million rows with --yes. A --finish-by
        window needs the requests counted (and with --undo-out the conversations)."""
        req, job = self.req, self.job
        if req.yes and not req.strict and req.finish_by is None:
            return Plan(rows=self._rows())
        plan = make_plan(job, counts_only=req.yes and req.undo_out is None)
        if req.strict and plan.invalid:
            raise StartupError(f"{job.path}: {plan.invalid} invalid row(s) and --strict: "
                               f"nothing was sent. First: {plan.invalid_examples[0]}. Fix "
                               "them (see `partoo-bulk plan JOB`) or drop --strict")
        return plan

    def _rows(self) -> int:
        """The job's row count. A resume takes it from the report's meta: the run that
        wrote the meta counted these very bytes (`outputs.prepare` checked their
        SHA-256), and counting a million rows would delay the first request."""
        known = runmeta.job_rows(self.req.report) if self.resuming else None
        return self.job.count_rows() if known is None else known

    def _confirm(self, plan: Plan) -> None:
        """The prompt (raises `StartupError` on a no), or with --yes the window's fit."""
        from worker.report.resume import count_kept

        req = self.req
        width = len(REPORT_COLUMNS) + len(self.job.extra_columns)
        kept = (count_kept(req.report, width, retry_failed=req.retry_failed)
                if self.resuming else (0, 0))
        if not req.yes:
            from worker.run.ask import confirm_run

            confirm_run(req, plan, kept)
        elif req.echo:
            _say_window(req, plan, kept[1])

    async def _send_all(self, total_rows: int) -> RunResult:
        req = self.req
        inputs = self._open_inputs(total_rows)
        started = time.monotonic()
        if req.files.journal:
            from worker.run.undo import UndoJournal

            self.journal = UndoJournal(req.files.journal, keep=self.resuming)
        failed = await self._send(inputs, total_rows)
        if failed is not None:
            error, rows = failed
            raise RunAborted(f"{inputs.out_path}: writing the report failed after row "
                             f"{rows} ({error.strerror}); the run was "
                             f"stopped. Free space or fix the folder, then: {req.resume_hint}")
        return self._finish(inputs, time.monotonic() - started)

    def _open_inputs(self, total_rows: int) -> _Inputs:
        """The job's rows, with those an earlier report already settled carried over."""
        req, job = self.req, self.job
        width = len(REPORT_COLUMNS) + len(job.extra_columns)
        asked = req.settings.csv_dialect.resolve(job.dialect)
        if not self.resuming:
            runmeta.write_meta(req.report, outputs.job_meta(req, job), job.path,
                               rows=total_rows)
            return _Inputs(hold_back(job.items(), req.canary), req.report, asked, asked)
        from worker.report import resume

        resume.consolidate(req.report, width)
        dialect = _report_dialect(req, asked)
        runmeta.record_start(req.report, rows=total_rows)  # not ended until this run says so
        # Read once, then gone: this run writes its own (see worker.report.ahead).
        finished_ahead = ahead.read_ahead(req.files.ahead, width)
        req.files.ahead.unlink(missing_ok=True)
        last_ok = (resume.last_ok_rows(req.report, width, finished_ahead)
                   if req.retry_failed else None)
        kept = resume.KeptPrefix(req.report, width, ahead=finished_ahead)

        def items() -> Iterator[Operation | Result]:
            # Started by the engine, once `_send` copied the kept lines: the job's rows
            # after them, the rest of the old report merged in.
            yield from resume.carry_over(job.items(skip=kept.rows), kept.rest(),
                                         retry_failed=req.retry_failed, last_ok=last_ok,
                                         ahead=finished_ahead)

        return _Inputs(hold_back(items(), req.canary), req.files.partial, asked, dialect,
                       kept)

    async def _send(self, inputs: _Inputs, total_rows: int) -> tuple[OSError, int] | None:
        """Every row through the engine into the report; the write error, if one stopped it."""
        req, s, control, summary = self.req, self.req.settings, self.control, self.summary
        stack = pacing(s, limiter=req.limiter)
        async with open_client(s) as client:
            async def read(op: Operation) -> ConversationState:
                return await client.read_conversation(op.conversation_id)

            work = RowWork(stack.requester(control), client.update, read,
                           capture=self.journal, guards=req.guards,
                           guard_max_age_s=s.guard_max_age_s)
            engine = Engine(work, control, concurrency=stack.concurrency)
            with ReportWriter(inputs.out_path, self.job.extra_columns,
                              dialect=inputs.dialect) as report, \
                    make_progress(total_rows, summary, quiet=req.quiet,
                                  concurrency=stack.concurrency) as progress:
                if inputs.kept is not None:
                    try:
                        inputs.kept.write_to(report)
                        report.flush()
                    except OSError as exc:  # disk full: as the sink reports a failed write
                        return exc, report.rows_flushed
                    summary.carry(inputs.kept.outcomes)
                sink = ReportSink(report, summary, progress, control)
                sink.sent = self.sent if req.canary else None
                snapshots = asyncio.create_task(ahead.keep_ahead(req.files.ahead,
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
                    gate = stack.concurrency
                    summary.concurrency = ConcurrencyUse(gate.cap, gate.most_busy,
                                                         gate.cap_held())
        # The rows on disk: the writer flushed what it could when it closed.
        return None if sink.error is None else (sink.error, report.rows_flushed)

    def _finish(self, inputs: _Inputs, wall: float) -> RunResult:
        """Every row is in the report: put it in place, write the undo job, say how it went."""
        req, control, summary = self.req, self.control, self.summary
        req.files.ahead.unlink(missing_ok=True)
        if self.resuming:
            publish(req.files.partial, req.report)
        runmeta.record_stop(req.report,
                            None if control.stop is None else control.stop.reason.value)
        if req.earlier is not None:  # the canary's rows and requests belong to this run too
            summary.absorb(req.earlier.summary)
            wall += req.earlier.wall_s
        # A canary that went through says how it went itself, before the rest is sent.
        said_later = bool(req.canary) and control.stop is None
        if req.echo and not said_later:
            print(summary.line(wall, str(req.report)), flush=True)
        if self.journal is not None and req.undo_out is not None:
            from worker.run import undo

            undo.finish(req.report, self.journal, req.undo_out, req.resume_hint,
                        dialect=inputs.asked, quiet=said_later or not req.echo)
        if req.echo:
            self._say_stop()
        result = RunResult(self.exit_code(), summary, wall, control.stop)
        result.canary = self.sent
        return result

    def exit_code(self) -> ExitCode:
        """The run's exit code: `worker.core.exitcodes.exit_code` of its stop and rows."""
        o = self.summary.outcomes
        return exit_code(self.control.stop, all_ok=not (o[Outcome.FAILED] or o[Outcome.INVALID]))

    def _say_stop(self) -> None:
        """Why the run stopped, and the command that resumes it."""
        stop, req = self.control.stop, self.req
        if stop is None:
            return
        verb = "aborted" if stop.aborted else "stopped"
        command = ""
        if req.resume_hint:
            from worker.report.nextsteps import retry_failed_advised

            again = retry_failed_advised(stop.reason, self.summary.failed_on_outage)
            command = f"{req.resume_hint}{' --retry-failed' if again else ''}"
        logs.event(verb, f"partoo-bulk: {verb}: {stop.detail}",
                   level=logs.ERROR if stop.aborted else logs.WARNING,
                   stop_kind=stop.reason.value, resume_command=command or None)
        if command:
            logs.event("resume_hint", f"partoo-bulk: to finish the job: {command}",
                       level=logs.INFO, resume_command=command)


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
