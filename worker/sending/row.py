"""One row of a job, as a small state machine on the request path: what running a row
means, and the `Result` it ends with.

    READ     a GET (`Step.GUARD`, or `Step.CAPTURE` for --undo-out alone), when the row
             has a guard (`worker.core.guards`) or its conversation's state is needed
             for the undo job; one read serves both
      -> already in the row's target state: `ok`, nothing sent
      -> its guard no longer holds: `changed`, nothing sent
    CHANGE   the PATCH, retried per `RetryPolicy`; a guarded row's PATCH, first or
             retried, never goes on a state older than `guard_max_age_s`: it reads
             again (back to READ), then decides
    SETTLE   a read-back (`Step.READ_BACK`), when the change's last answer left it open
             whether it landed (`RequestError.may_have_applied`): the conversation says
    -> Result: ok / changed / failed / skipped (the run stopped first: `--resume` sends it)

Every request goes through the one request path (`worker.sending.requester`), which
paces, retries and watches it; the row tells it how it ended (`finished`), so the
breaker and the refusal rule count rows. The row never raises but `CancelledError`.

A read-back decides what the server really did: it holds what the row asked for -> `ok`
("in effect", as it may have been so before this row); it does not -> `failed`, saying
what the conversation holds; the read fails too -> `failed`, "may or may not have been
applied". A change made by someone else in between would be read as ours; for the few
rows that reach this step, that is the better guess than "unknown".
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from typing import Protocol

from worker.core.clock import utc_now_ms
from worker.core.conversation import ConversationState
from worker.core.errors import RateLimited, RequestError, RunAborted, TransientError, Unauthorized
from worker.core.guards import NOTHING_SENT, Guard
from worker.core.operations import Field, Operation
from worker.core.outcomes import Fault, Outcome, Result
from worker.core.stops import StopReason
from worker.core.text import counted
from worker.sending.requester import Interrupted, Requester, Stale, Step
from worker.sending.retrypolicy import RetryPolicy, Tally

__all__ = ["Capture", "RowWork", "describe_state", "holds"]

Send = Callable[[Operation], Awaitable[object]]
Read = Callable[[Operation], Awaitable[ConversationState]]


class Capture(Protocol):
    """Keeps a conversation's state as read before its first change (for `--undo-out`:
    `worker.run.undo.UndoJournal`)."""

    def needed(self, conversation_id: int) -> bool: ...
    def record(self, conversation_id: int, state: ConversationState) -> None: ...


class _State(enum.Enum):
    READ = "read"
    CHANGE = "change"


def holds(state: ConversationState, op: Operation) -> bool:
    """Does a conversation in `state` already hold what `op` asks for?"""
    now = state.status if op.action.field is Field.STATUS else state.assigned
    return now == op.action.target(op.value)


def describe_state(state: ConversationState, op: Operation) -> str:
    """The field `op` touches, as the conversation holds it (for a message)."""
    if op.action.field is Field.STATUS:
        return state.status
    return f"assigned to {state.assignee}" if state.assignee else "unassigned"


class RowWork:
    """A run's work for each row: `send` is the PATCH, `read` the GET of the row's
    conversation. `guards=False` (--no-guards): a guarded row is sent without reading.
    `guard_max_age_s`: how old a guard's state may be when the PATCH goes out; 0: the
    PATCH right after its own read goes, and every retry reads again."""

    def __init__(self, requester: Requester, send: Send, read: Read, *,
                 capture: Capture | None = None, guards: bool = True,
                 guard_max_age_s: float = 30.0) -> None:
        self._requester = requester
        self._read_back = requester.reading()
        self._send = send
        self._read = read
        self._capture = capture
        self._guards = guards
        self._max_age_s = guard_max_age_s

    def skipped(self, op: Operation, tally: Tally, reason: str, *,
                in_flight: bool = False) -> Result:
        return skipped(op, tally, reason, in_flight=in_flight)

    async def run(self, op: Operation, tally: Tally) -> Result:
        guard = op.guard if self._guards else None
        capture = self._capture
        if capture is not None and not capture.needed(op.conversation_id):
            capture = None
        state = _State.READ if guard is not None or capture is not None else _State.CHANGE
        step = Step.CHANGE
        fresh: Callable[[float], bool] | None = None
        control = self._requester.control
        try:
            while True:
                if state is _State.READ:
                    step = Step.GUARD if guard is not None else Step.CAPTURE
                    read_at = asyncio.get_running_loop().time()
                    found = await self._requester.request(op, tally, step, self._read)
                    if capture is not None:
                        capture.record(op.conversation_id, found)  # the first read only
                        capture = None
                    if guard is not None:
                        settled = self._judge(op, tally, guard, found)
                        if settled is not None:
                            return settled
                        fresh = _Fresh(read_at, self._max_age_s, tally)
                    state = _State.CHANGE
                step = Step.CHANGE
                try:
                    await self._requester.request(op, tally, step, self._send, fresh=fresh)
                except Stale:
                    state = _State.READ  # the guard's state is too old: read it again
                    continue
                break
        except Interrupted as exc:
            return skipped(op, tally, control.reason_text(), cause=exc.__cause__)
        except RunAborted as exc:  # a file of ours (the undo journal) cannot be written
            control.halt(StopReason.REPORT, str(exc))
            return skipped(op, tally, control.reason_text())
        except Exception as exc:
            if not isinstance(exc, RequestError):
                reason = f"internal error ({type(exc).__name__}: {exc})"
                control.halt(StopReason.INTERNAL, reason)
                # Not the row's fault: once fixed, it is sent again in place.
                return done(op, tally, Outcome.FAILED, None, reason, Fault.OUTAGE)
            return await self._failed(op, tally, step, exc)
        self._requester.finished(None)
        return done(op, tally, Outcome.OK, 200, "")

    def _judge(self, op: Operation, tally: Tally, guard: Guard,
               state: ConversationState) -> Result | None:
        """A guarded row's verdict from the state just read: its `Result` when nothing is
        to be sent (already done; changed since the job was made), else None: send."""
        if holds(state, op):
            if tally.maybe_applied:  # read again before a retry: an attempt landed
                text = ("in effect, as reading it again before a retry shows; no answer to "
                        f"the change said so (last: {tally.last_error})")
            else:  # also what makes a row sent again after a crash harmless
                text = f"{NOTHING_SENT} {describe_state(state, op)} when read before the change"
            outcome = Outcome.OK
        else:
            why = guard.broken(state)
            if why is None:
                return None
            text = f"changed since the job was made: {why}; not sent"
            if tally.maybe_applied:
                text += " again (an earlier attempt's answer was lost: check the conversation)"
            outcome = Outcome.CHANGED
        self._requester.finished(None)  # the API answered; a row rightly not sent is no failure
        return done(op, tally, outcome, None, text)

    async def _failed(self, op: Operation, tally: Tally, step: Step,
                      exc: RequestError) -> Result:
        if isinstance(exc, Unauthorized):
            # The key, not the row, is wrong: the row goes back with the others, so that
            # `--resume` with a good key sends it.
            self._requester.finished(exc)
            return skipped(op, tally, self._requester.control.reason_text(), cause=exc)
        if self._lost_answer(exc, tally):
            return await self._settle(op, tally, exc)
        self._requester.finished(exc)
        text = failure_text(exc, tally, self._requester.policy)
        if step is not Step.CHANGE:
            why = ("to check what the job expects of it" if step is Step.GUARD
                   else "for the undo file")
            # Nothing was sent unless an earlier attempt of the change may have landed.
            text = (f"not changed: reading its state {why} failed: "
                    f"{failure_text(exc, tally, self._requester.policy, read=True)}")
        return done(op, tally, Outcome.FAILED, exc.http_status, text, exc.fault)

    def _lost_answer(self, exc: RequestError, tally: Tally) -> bool:
        """Did the change land? Open if an answer left it so and the last is no 4xx verdict."""
        return (tally.maybe_applied and not self._requester.control.stopping
                and (isinstance(exc, TransientError) or exc.may_have_applied))

    async def _settle(self, op: Operation, tally: Tally, exc: RequestError) -> Result:
        """The change's last answer did not say whether it landed: read the conversation."""
        reads = Tally()  # the read's own retry budget; its counts join the row's
        control = self._requester.control
        try:
            state = await self._read_back.request(op, reads, Step.READ_BACK, self._read)
        except (Interrupted, Unauthorized) as stopped:
            if isinstance(stopped, Unauthorized):
                self._requester.finished(stopped)  # the run stops; the row goes to --resume
            tally.add(reads)
            return skipped(op, tally, control.reason_text(), cause=exc)
        except RequestError as read_exc:
            text = (f"{failure_text(exc, tally, self._requester.policy)}; reading it back "
                    f"failed too: {read_exc.message}")
            outcome = Outcome.FAILED
        except asyncio.CancelledError:
            tally.add(reads)
            raise
        else:
            if holds(state, op):
                # "In effect", not "applied": it may have been so before this row.
                text = ("in effect, as reading it back shows; no answer to the change said "
                        f"so (last: {exc.message})")
                outcome = Outcome.OK
            else:
                text = failure_text(
                    exc, tally, self._requester.policy,
                    settled=f"not applied: reading it back shows {describe_state(state, op)}")
                outcome = Outcome.FAILED
        tally.add(reads)
        if outcome is Outcome.OK:
            self._requester.finished(None)
            return done(op, tally, outcome, 200, text)
        self._requester.finished(exc)
        return done(op, tally, outcome, exc.http_status, text, exc.fault)


class _Fresh:
    """Is a guard's state, read at `read_at`, still fresh enough to send on? With a max
    age of 0, only while no request went out since the read (`tally`): the first PATCH
    after its own read (one GET per row), never a retry."""

    __slots__ = ("_max_age_s", "_read_at", "_sent", "_tally")

    def __init__(self, read_at: float, max_age_s: float, tally: Tally) -> None:
        self._read_at, self._max_age_s = read_at, max_age_s
        self._tally, self._sent = tally, tally.requests

    def __call__(self, now: float) -> bool:
        if self._max_age_s <= 0:
            return self._tally.requests == self._sent
        return now - self._read_at <= self._max_age_s


def done(op: Operation, tally: Tally, outcome: Outcome, http_status: int | None,
         error: str, fault: Fault | None = None) -> Result:
    # From the first request out to the final answer: the row's own time, not the time
    # it queued for a permit.
    now = asyncio.get_running_loop().time()
    elapsed = now - (tally.first_sent_at if tally.first_sent_at is not None else now)
    return Result(row=op.row, conversation_id=str(op.conversation_id),
                  action=op.action.value, value=op.value, outcome=outcome,
                  http_status=http_status, attempts=tally.requests, error=error,
                  fault=fault, duration_ms=round(elapsed * 1000), finished_at=utc_now_ms(),
                  cells=op.cells, throttled=tally.throttled, reads=tally.reads)


def skipped(op: Operation, tally: Tally, reason: str, *, in_flight: bool = False,
            cause: BaseException | None = None) -> Result:
    """A row the run stopped before finishing: `--resume` sends it again."""
    if tally.requests == 0:
        text = f"not attempted: {reason}"
    elif in_flight:
        text = (f"interrupted with a request in flight ({reason}); it may have reached "
                "the server: --resume sends it again")
    else:
        said = str(cause) if cause is not None else tally.last_error
        # A stop for this row's own answer (a 401) names it already: say it once.
        last = f" (last: {said})" if said and said not in reason else ""
        maybe = ("; it may have been applied" if tally.maybe_applied
                 and "may have been applied" not in said else "")
        tries = counted(tally.requests, "attempt")
        text = f"not finished after {tries}{last}{maybe}: {reason}; --resume sends it again"
    return Result(row=op.row, conversation_id=str(op.conversation_id),
                  action=op.action.value, value=op.value, outcome=Outcome.SKIPPED,
                  http_status=tally.last_status, attempts=tally.requests, error=text,
                  cells=op.cells, throttled=tally.throttled, reads=tally.reads)


def failure_text(exc: RequestError, tally: Tally, policy: RetryPolicy, *,
                 settled: str | None = None, read: bool = False) -> str:
    """What went wrong, for the report. `settled`: what reading the conversation back
    showed, when it was read. `read`: the failed request was a GET before any change was
    sent, so "it may or may not have been applied" is no question (unless an earlier
    attempt of the change may have landed)."""
    if isinstance(exc, RateLimited):
        text = (f"429 rate limited {tally.throttled} times, {tally.throttled_wait_s:.0f} s "
                f"waited in all: gave up (rate_limit_budget_s={policy.rate_limit_budget_s:g})")
        if tally.asked_wait_s > policy.max_retry_after_s:
            text += (f"; the server asked to wait {tally.asked_wait_s:.0f} s, capped at "
                     f"max_retry_after_s={policy.max_retry_after_s:g}")
        return text
    if isinstance(exc, TransientError):
        tries = f"gave up after {tally.failures} attempts; " if tally.failures > 1 else ""
        if read and not tally.maybe_applied:
            return f"{exc.message} ({tries}nothing was sent)" if tries else exc.message
        # A 5xx or a lost connection does not say whether the change was applied first.
        return f"{exc.message} ({tries}{settled or 'it may or may not have been applied'})"
    return f"{exc.message} ({settled})" if settled else exc.message
