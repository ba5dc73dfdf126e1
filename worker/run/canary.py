"""`run --canary N`: send the first N rows, read them back, and only then the rest.

    part 1  a run that sends the first N rows to send; every later row is written
            `skipped` ("held back by --canary") so that the report is whole
    check   each row sent is read back as `verify` reads (`worker.run.verify`, the same
            expectations and comparison): a row holds when it came back ok and its
            conversation now shows what the report says; a failed row does not hold
    decide  on a terminal, what holds is shown and the operator is asked; with --yes,
            the run goes on only if every row holds
    part 2  a `--resume` of the same report in the same process: the canary's rows are
            kept, the held-back rows are sent; its figures count the canary's too

A canary that does not hold, or a "no", leaves the report complete with the held-back
rows `skipped` and exits 1: `--resume` sends the rest, as after any stop.

Stops. Every stop signal (`worker.sending.signals.stop_signals`) stops the run in any
part, whatever the process inherited SIGINT as (a script's `cmd &` leaves it ignored):
within a part's sending, that part's own graceful handling; anywhere else, as Ctrl-C
(`interrupting`): during the read-back or the question, the summary, the summary JSON,
the metrics and the resume command follow (exit 130); elsewhere, the command ends there,
130. A `--finish-by` window closed before or during the read-back stops the run there
too (exit 3): no read-back starts after it, nor any held-back row.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from worker import logs
from worker.config.finishby import seconds_left, shown
from worker.core.errors import RunAborted, StartupError
from worker.core.exitcodes import ExitCode, exit_code
from worker.core.operations import parse_conversation_id
from worker.core.outcomes import Outcome, Result
from worker.core.stops import Stop, StopReason
from worker.jobfile.pinned import is_stream
from worker.report import meta as runmeta
from worker.run.ask import open_terminal
from worker.run.request import RunRequest, RunResult
from worker.run.runner import held, run
from worker.run.verify import Findings, expectations, verify
from worker.sending.ratelimit import RateLimiter
from worker.sending.signals import Interrupting, interrupting

__all__ = ["run_with_canary"]


def run_with_canary(req: RunRequest) -> RunResult:
    """Both parts under one lock of the report: no other run sends the held-back rows
    while they are read back and the operator is asked. Every stop signal, from the
    first part's start to the second part's end, stops as Ctrl-C (the CLI's process
    only: the Python API leaves its host's signals alone)."""
    with held(req) as locked, interrupting(enabled=req.handle_signals, loops=True) as caught:
        # One meter for the whole run: its parts each starting one would send their
        # first requests at once, on the heels of the part before.
        limiter = RateLimiter(req.settings.rate_per_minute, req.settings.burst)
        return _run_with_canary(replace(locked, limiter=limiter), caught)


def _run_with_canary(req: RunRequest, caught: Interrupting) -> RunResult:
    first = run(req)
    if first.stop is not None:  # 401, breaker, Ctrl-C: that run said so, and how to go on
        return first
    held_back = first.summary.outcomes[Outcome.SKIPPED]
    try:
        findings = _read_back(req, first.canary)
        if findings.stop is not None and findings.stop.reason is StopReason.WINDOW:
            return _stopped(req, first, held_back, StopReason.WINDOW,
                            f"canary: {findings.stop.detail}")
        bad = [line for r in first.canary if (line := _not_holding(r, findings))]
        text = _describe(first.canary, bad, findings)
        fields = _fields(first.canary, bad)
        go = bool(held_back) and _go_ahead(req, text, fields, held_back)
    except KeyboardInterrupt as exc:  # a stop signal while reading back, or at the question
        return _stopped(req, first, held_back, StopReason.INTERRUPTED,
                        f"run interrupted ({caught.which(exc).name}) after the canary "
                        "was sent")
    if go:
        return _rest(req, first)
    if not held_back:  # the canary was the whole job: nothing more to send
        logs.event("canary", text, level=logs.WARNING if bad else logs.INFO, **fields)
        print(first.summary.line(first.wall_s, str(req.report)), flush=True)
        return replace(first, exit_code=ExitCode.FAILED if bad else first.exit_code)
    why = (f"{len(bad)} of {len(first.canary)} canary rows do not hold" if bad
           else "not confirmed")
    return _stopped(req, first, held_back, StopReason.CANARY, f"canary: {why}")


@dataclass
class _Window:
    closed: bool = False


@contextlib.contextmanager
def _window(req: RunRequest) -> Iterator[_Window]:
    """--finish-by during the read-back: when the window closes, the reads stop as at a
    Ctrl-C (`interrupting`'s SIGINT cancels `verify`'s loop; a GET in flight is cut,
    which changes nothing), and `closed` says it was the window. An alarm, because
    `verify` runs loops of its own that take no deadline. Only where the stop signals
    are the canary's (the CLI, the main thread) and the platform has `setitimer`;
    elsewhere only a window closed before the read-back keeps it from starting."""
    window = _Window()
    left = None if req.finish_by is None else seconds_left(req.finish_by)
    if (left is None or not req.handle_signals or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield window
        return

    def close(signum: int, frame: object) -> None:
        window.closed = True
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGALRM, close)
    signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))
    try:
        yield window
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _rest(req: RunRequest, first: RunResult) -> RunResult:
    """The held-back rows: a resume of the canary's report, reading the job's copy that
    the canary pinned (a job from stdin was read once, by the canary)."""
    job = req.job
    if is_stream(job.path):
        job = replace(job, path=req.files.job_copy)
    try:
        return run(replace(req, job=job, resume=True, overwrite=False, retry_failed=False,
                           yes=True, canary=0, earlier=first))
    except StartupError as exc:  # exit 2 says nothing was sent: the canary's rows were
        raise RunAborted(f"{exc}. The {len(first.canary)} canary rows were sent; the rest "
                         f"were not (skipped in {req.report}). To send them, once fixed: "
                         f"{req.resume_hint}") from None


def _stopped(req: RunRequest, first: RunResult, held_back: int, reason: StopReason,
             why: str) -> RunResult:
    """The canary's part is all this run sends: say so, and how to send the rest."""
    runmeta.record_stop(req.report, reason.value)
    stop = Stop(reason, why)
    rest = (f"the other {held_back} rows were not sent (skipped in {req.report})"
            if held_back else f"the canary's rows are in {req.report}")
    logs.event("stopped" if reason is StopReason.INTERRUPTED else "canary_stop",
               f"partoo-bulk: {why}: {rest}. To send them: {req.resume_hint}"
               if held_back else f"partoo-bulk: {why}: {rest}", level=logs.WARNING,
               stop_kind=reason.value, resume_command=req.resume_hint if held_back else None)
    print(first.summary.line(first.wall_s, str(req.report)), flush=True)
    o = first.summary.outcomes
    code = exit_code(stop, all_ok=not (o[Outcome.FAILED] or o[Outcome.INVALID]))
    return RunResult(code, first.summary, first.wall_s, stop, first.canary)


def _read_back(req: RunRequest, sent: list[Result]) -> Findings:
    """What the conversations the canary changed hold now, read as `verify` reads them;
    none read once the --finish-by window closed (`Findings.stop`: `StopReason.WINDOW`)."""
    changed = {parse_conversation_id(r.conversation_id) for r in sent
               if r.outcome is Outcome.OK}
    expected = expectations(req.report, changed)
    if not expected:
        return Findings()
    if req.finish_by is not None and seconds_left(req.finish_by) <= 0:
        return _closed(req, "before")
    with _window(req) as window:
        try:
            return verify(expected, req.settings, limiter=req.limiter)
        except KeyboardInterrupt:
            if not window.closed:
                raise
    return _closed(req, "while")


def _closed(req: RunRequest, when: str) -> Findings:
    assert req.finish_by is not None
    detail = (f"the window closed at {shown(req.finish_by)} (--finish-by) {when} its rows "
              "were read back")
    return Findings(aborted=detail, stop=Stop(StopReason.WINDOW, detail))


def _not_holding(result: Result, findings: Findings) -> str | None:
    """Why a canary row does not hold, or None when it does."""
    cid = parse_conversation_id(result.conversation_id)
    where = f"row {result.row}, conversation {cid}"
    if result.outcome is Outcome.CHANGED:
        return None  # rightly not sent (its guard): says nothing against the change
    if result.outcome is not Outcome.OK:
        return f"{where}: {result.outcome.value}: {result.error}"
    if findings.holds(cid):
        return None
    differ = [str(d) for d in findings.differences if d.conversation_id == cid]
    unread = [u.error for u in findings.unreadable if u.conversation_id == cid]
    if differ:
        return f"{where}: reads back differently: {'; '.join(differ)}"
    if unread:
        return f"{where}: could not be read back: {unread[0]}"
    return f"{where}: not read back ({findings.aborted or 'the reads stopped'})"


def _describe(sent: list[Result], bad: list[str], findings: Findings) -> str:
    head = (f"canary: {len(sent)} rows sent, read back: {len(sent) - len(bad)} hold, "
            f"{len(bad)} do not")
    if findings.aborted:
        head += f" (reading back stopped: {findings.aborted})"
    return "\n".join([head, *(f"  {line}" for line in bad)])


def _fields(sent: list[Result], bad: list[str]) -> dict[str, object]:
    return {"rows_sent": len(sent), "rows_holding": len(sent) - len(bad), "not_holding": bad}


def _go_ahead(req: RunRequest, text: str, fields: dict[str, object], held: int) -> bool:
    """Send the held-back rows? --yes: only if every row holds; else the operator says."""
    holds = not fields["not_holding"]
    if req.yes or logs.json_mode():
        logs.event("canary", text, level=logs.INFO if holds else logs.WARNING, **fields)
    if req.yes:
        return holds
    terminal = open_terminal()
    if terminal is None:
        return False
    with terminal:
        terminal.say(text)
        host = urlsplit(req.settings.base_url).netloc
        return terminal.ask(f"Send the other {held} rows to {host}?")
