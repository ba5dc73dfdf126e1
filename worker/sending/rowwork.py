"""One row's requests: the state read, the change, the read-back; each one paced,
retried and classified; then the row's `Result`.

    [read: GET, for a guarded row (`worker.core.guards`) just before its change, and once
     per conversation for --undo-out; one read serves both]
      -> already in the row's target state: `ok`, nothing sent; its guard no longer
         holds: `changed`, nothing sent
      -> change: `send` (one PATCH), each attempt behind a rate permit, retried per
         `RetryPolicy`; a 429 tells the adaptive rate (and a long Retry-After pauses
         every sender)
      -> [read-back: GET, when the change's last answer left it open whether it landed]
      -> Result (ok / failed / skipped); the breaker and the refusal rule told how it went

The engine decides when a row runs; `RowWork` decides what running it means. Both
share one `RunControl`: `RowWork` reads it between attempts (no retry once the run is
stopping), marks each request in flight on it, and halts it for what must end the run
(401, the breaker, the first rows all refused alike, a bug). `request()` is the paced,
retried, classified step on its own, for work that is not a change (`verify`'s reads).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from worker.core.conversation import ConversationState
from worker.core.errors import (
    RateLimited,
    RequestError,
    RunAborted,
    TransientError,
    Unauthorized,
)
from worker.core.guards import NOTHING_SENT, Guard
from worker.core.operations import Operation
from worker.core.outcomes import Fault, Outcome, Result
from worker.core.stops import StopReason
from worker.sending import results
from worker.sending.aimd import Aimd
from worker.sending.breaker import Breaker
from worker.sending.concurrency import Concurrency
from worker.sending.control import RunControl
from worker.sending.ratelimit import RateLimiter
from worker.sending.readback import describe_state, holds
from worker.sending.refusals import SameRefusals
from worker.sending.retrypolicy import RetryPolicy
from worker.sending.stall import NoProgress
from worker.sending.tally import Tally

__all__ = ["Capture", "Interrupted", "ReadState", "RowWork", "Send", "Step"]

# The vocabulary of a row's requests: which request an attempt is, the callables that
# make them, and the stop between attempts (also used by `verify`'s reads and
# `select`'s pages).

Send = Callable[[Operation], Awaitable[object]]
ReadState = Callable[[Any], Awaitable[ConversationState]]


class Step(enum.Enum):
    """Which of a row's requests an attempt is: the request log and the counts differ."""

    GUARD = "guard"  # the state just before a guarded row's change (its undo capture too)
    CAPTURE = "capture"  # the state before the first change, for --undo-out
    CHANGE = "change"  # the row's change itself (the only PATCH)
    READ_BACK = "read-back"  # the state after a lost answer
    READ = "read"  # a read that is the work itself (verify)

    @property
    def method(self) -> str:
        return "PATCH" if self is Step.CHANGE else "GET"


class Capture(Protocol):
    """Keeps a conversation's state as read before its first change (for `--undo-out`).
    The read is the row's own (`RowWork`): a guarded row reads once, for both."""

    def needed(self, conversation_id: int) -> bool: ...
    def record(self, conversation_id: int, state: ConversationState) -> None: ...


class Interrupted(Exception):
    """Raised inside a row's retry loop when the run stops between attempts."""


class RowWork:
    def __init__(self, send: Send | None, limiter: RateLimiter, policy: RetryPolicy,
                 control: RunControl, *, aimd: Aimd | None = None,
                 breaker: Breaker | None = None, refusals: SameRefusals | None = None,
                 capture: Capture | None = None, read_back: ReadState | None = None,
                 concurrency: Concurrency | None = None, guards: bool = True,
                 stall: NoProgress | None = None) -> None:
        self._send = send
        self._guards = guards  # False: --no-guards, a guarded row is sent without reading
        self._capture = capture
        self._read_back = read_back
        self._limiter = limiter
        # The engine's gate is told when a row cannot take a permit: a request out, or
        # a retry wait (then another row must stand ready at the meter).
        self._gate = concurrency
        if concurrency is not None:
            policy = dataclasses.replace(policy, sleep=functools.partial(
                _busy_sleep, concurrency, policy.sleep))
        self._policy = policy
        # One retry at most: a read-back must not double the load on a failing API.
        self._read_policy = dataclasses.replace(policy,
                                                max_attempts=min(policy.max_attempts, 2))
        self._aimd = aimd
        self._breaker = breaker
        self._refusals = refusals or SameRefusals(0)  # 0: never stops
        self._stall = stall
        self._control = control

    def skipped(self, op: Operation, tally: Tally, reason: str, *,
                in_flight: bool = False) -> Result:
        return results.skipped(op, tally, reason, in_flight=in_flight)

    async def request(self, op: Any, tally: Tally, step: Step,
                      send: Callable[[Any], Awaitable[Any]]) -> Any:
        """One request of a row, paced and retried: its answer, or the last
        `RequestError` once out of budget; `Interrupted` if the run stops between tries."""
        return await self._policy.run(functools.partial(self._attempt, op, tally, step, send),
                                      tally)

    async def run(self, op: Operation, tally: Tally) -> Result:
        """All of one row's requests: the read if its guard or the undo capture needs one
        (one GET for both), the change, and a read-back if the change's answer was lost.
        Never raises but `CancelledError`."""
        assert self._send is not None, "a RowWork that runs rows is given the change"
        guard = op.guard if self._guards else None
        capture = self._capture
        if capture is not None and not capture.needed(op.conversation_id):
            capture = None
        step = Step.CHANGE
        try:
            if guard is not None or capture is not None:
                assert self._read_back is not None, "a row's read is given with its capture"
                step = Step.GUARD if guard is not None else Step.CAPTURE
                state = await self.request(op, tally, step, self._read_back)
                if capture is not None:
                    capture.record(op.conversation_id, state)
                if guard is not None:
                    settled = self._judge(op, tally, guard, state)
                    if settled is not None:
                        return settled
            step = Step.CHANGE
            await self.request(op, tally, step, self._send)
        except Interrupted as exc:
            return results.skipped(op, tally, self._control.reason_text(), cause=exc.__cause__)
        except RunAborted as exc:  # a file of ours (the undo journal) cannot be written
            self._control.halt(StopReason.REPORT, str(exc))
            return results.skipped(op, tally, self._control.reason_text())
        except Exception as exc:
            if not isinstance(exc, RequestError):
                reason = f"internal error ({type(exc).__name__}: {exc})"
                self._control.halt(StopReason.INTERNAL, reason)
                # Not the row's fault: once fixed, it is sent again in place.
                return results.done(op, tally, Outcome.FAILED, None, reason, Fault.OUTAGE)
            if isinstance(exc, Unauthorized):
                # The key, not the row, is wrong: the row goes back with the others, so
                # that `--resume` with a good key sends it.
                self.failed(exc)
                return results.skipped(op, tally, self._control.reason_text(), cause=exc)
            if self._lost_answer(exc, tally):
                return await self._settle(op, tally, exc)
            self.failed(exc)
            text = results.failure_text(exc, tally, self._policy)
            if step is not Step.CHANGE:
                why = ("to check what the job expects of it" if step is Step.GUARD
                       else "for the undo file")
                text = f"not changed: reading its state {why} failed: {text}"
            return results.done(op, tally, Outcome.FAILED, exc.http_status, text, exc.fault)
        self.succeeded()
        return results.done(op, tally, Outcome.OK, 200, "")

    def _judge(self, op: Operation, tally: Tally, guard: Guard,
               state: ConversationState) -> Result | None:
        """A guarded row's verdict from the state just read: its `Result` when nothing is
        to be sent (already done; changed since the job was made), else None: send."""
        if holds(state, op):
            # Also what makes a row sent again after a crash harmless.
            text = f"{NOTHING_SENT} {describe_state(state, op)} when read before the change"
            outcome = Outcome.OK
        else:
            why = guard.broken(state)
            if why is None:
                return None
            text = f"changed since the job was made: {why}; not sent"
            outcome = Outcome.CHANGED
        self.succeeded()  # the API answered; a row rightly not sent is no failure
        return results.done(op, tally, outcome, None, text)

    def _lost_answer(self, exc: RequestError, tally: Tally) -> bool:
        """Did the change land? Open if an answer left it so and the last is no 4xx verdict."""
        return (tally.maybe_applied and self._read_back is not None
                and not self._control.stopping
                and (isinstance(exc, TransientError) or exc.may_have_applied))

    async def _settle(self, op: Operation, tally: Tally, exc: RequestError) -> Result:
        """The change's last answer did not say whether it landed: read the conversation."""
        assert self._read_back is not None
        reads = Tally()  # the read's own retry budget; its counts join the row's
        try:
            state = await self._read_policy.run(
                functools.partial(self._attempt, op, reads, Step.READ_BACK, self._read_back),
                reads)
        except (Interrupted, Unauthorized) as stopped:
            if isinstance(stopped, Unauthorized):
                self.failed(stopped)  # the run stops; the row goes to --resume
            tally.add_reads(reads)
            return results.skipped(op, tally, self._control.reason_text(), cause=exc)
        except RequestError as read_exc:
            text = (f"{results.failure_text(exc, tally, self._policy)}; reading it back "
                    f"failed too: {read_exc.message}")
            outcome = Outcome.FAILED
        except asyncio.CancelledError:
            tally.add_reads(reads)
            raise
        else:
            if holds(state, op):
                # "In effect", not "applied": it may have been so before this row.
                text = ("in effect, as reading it back shows; no answer to the change said "
                        f"so (last: {exc.message})")
                outcome = Outcome.OK
            else:
                text = results.failure_text(
                    exc, tally, self._policy,
                    settled=f"not applied: reading it back shows {describe_state(state, op)}")
                outcome = Outcome.FAILED
        tally.add_reads(reads)
        if outcome is Outcome.OK:
            self.succeeded()
            return results.done(op, tally, outcome, 200, text)
        self.failed(exc)
        return results.done(op, tally, outcome, exc.http_status, text, exc.fault)

    async def _attempt(self, op: Any, tally: Tally, step: Step,
                       send: Callable[[Any], Awaitable[Any]]) -> Any:
        await self._limiter.acquire()
        if not self._control.may_start():
            # Stopping (or the --finish-by window closed) while this row waited for its
            # permit, or between two of its requests: no request starts after a stop.
            raise Interrupted()
        loop = asyncio.get_running_loop()
        tally.requests += 1
        if tally.first_sent_at is None:
            tally.first_sent_at = loop.time()
        sent_at = loop.time()
        if self._stall is not None:
            self._stall.started(sent_at)
        if step is not Step.CHANGE:
            tally.reads += 1
        gate = self._gate
        if gate is not None:
            gate.busy()
        try:
            with self._control.requesting():
                answer = await send(op)
        except asyncio.CancelledError:
            tally.cut_in_flight = True
            raise
        except RequestError as exc:
            results.log_request(step.method, op, tally, exc.http_status,
                                loop.time() - sent_at, exc.message)
            tally.last_status = exc.http_status
            tally.last_error = exc.message
            if step is Step.CHANGE and exc.may_have_applied:
                tally.maybe_applied = True
            if isinstance(exc, RateLimited):
                self._on_rate_limited(exc, tally)
            if self._stall is not None:
                self._check_stall(exc, loop.time())
            if isinstance(exc, TransientError) and self._control.stopping:
                raise Interrupted() from exc  # no retry once the run is stopping
            raise
        finally:
            if gate is not None:
                gate.ready()
        if self._stall is not None:
            self._stall.went_through(loop.time())
        tally.ok += 1
        tally.last_status = 200
        results.log_request(step.method, op, tally, 200, loop.time() - sent_at, "")
        if self._aimd is not None:
            self._aimd.on_success()
        return answer

    def _check_stall(self, exc: RequestError, now: float) -> None:
        """A transient failure after too long without any request going through stops
        the run; any other answer shows the API answering."""
        assert self._stall is not None
        if not isinstance(exc, TransientError):
            self._stall.went_through(now)
        elif self._stall.stalled(now):
            self._control.halt(StopReason.NO_PROGRESS, self._stall.explain(
                exc.message, throttled=isinstance(exc, RateLimited)))

    def _on_rate_limited(self, exc: RateLimited, tally: Tally) -> None:
        """A signal to the adaptive rate, and a long Retry-After's pause for every sender
        (a short one is the row's own wait: `RetryPolicy.wait_s`)."""
        pause = self._policy.pause_for(exc.retry_after_s)
        tally.throttled += 1
        tally.throttled_wait_s += pause
        tally.asked_wait_s = max(tally.asked_wait_s, exc.retry_after_s or 0.0)
        if self._policy.shared_pause(pause):
            self._limiter.pause(pause)
        if self._aimd is not None:
            self._aimd.on_throttled()

    def succeeded(self) -> None:
        """A row's work went through: the breaker counts a good row."""
        if self._breaker is not None:
            self._breaker.record(bad=False)
        self._refusals.record(None)

    def failed(self, exc: RequestError) -> None:
        """A row's work failed with `exc`: stop the run if that is what it means."""
        if isinstance(exc, Unauthorized):
            self._control.halt(StopReason.UNAUTHORIZED, f"the API answered {exc.message}")
            return
        if self._refusals.record(exc):
            self._control.halt(StopReason.REFUSED, self._refusals.explain())
        if self._breaker is not None:
            # Whose fault it is was decided once, by the error's class (`Fault`).
            if self._breaker.record(bad=exc.fault is Fault.OUTAGE):
                self._control.halt(StopReason.BREAKER, self._breaker.explain(
                    exc.message, throttled=isinstance(exc, RateLimited)))


async def _busy_sleep(gate: Concurrency, sleep: Callable[[float], Awaitable[None]],
                      seconds: float) -> None:
    """A retry's wait, during which the row is busy: it cannot take the next permit."""
    gate.busy()
    try:
        await sleep(seconds)
    finally:
        gate.ready()
