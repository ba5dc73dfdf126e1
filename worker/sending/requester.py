"""One request, the one way: paced, retried, classified, watched.

Every request the program makes goes through `Requester.request`: a row's guard read,
its change and its read-back (`worker.sending.row`), `verify`'s reads, `select`'s pages.

    request(item, tally, step, send)
      -> a rate permit (`RateLimiter`), then `RunControl.may_start()`: no request starts
         once the run is stopping or its --finish-by window closed (`Interrupted`)
      -> `send(item)`: one exchange through the client, which answers or raises one
         `RequestError` (`worker.partoo.client`)
      -> a 429: the tally counts it, and a long Retry-After pauses every sender
      -> the watchers hear of it (`Watcher.answered`): the adaptive rate, the stall rule
      -> a transient failure is retried per `RetryPolicy` (tenacity); anything else is
         the caller's to judge

When the caller is done with an item it says how it ended (`finished`): the rules that
count items, not requests (the breaker, the refusal rule), and a 401, may stop the run.
A watcher never stops the run itself: it returns a `Stop`, and the requester halts the
`RunControl` with it, so the first stop wins and no rule needs the control.

A `Tally` (`worker.sending.retrypolicy`) is what one item's requests have spent: the
retry policy reads it, and a row's `Result` is built from it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from worker.core.errors import RateLimited, RequestError, TransientError, Unauthorized
from worker.core.stops import Stop, StopReason
from worker.logs import REQUEST_LOG
from worker.sending.concurrency import Concurrency
from worker.sending.control import RunControl
from worker.sending.ratelimit import RateLimiter
from worker.sending.retrypolicy import RetryPolicy, Tally

__all__ = ["Interrupted", "Requester", "Stale", "Step", "Tally", "Target", "Watcher"]

T = TypeVar("T")


class Step(enum.Enum):
    """Which request an attempt is: the request log and the counts differ."""

    GUARD = "guard"  # the state just before a guarded row's change (its undo capture too)
    CAPTURE = "capture"  # the state before the first change, for --undo-out
    CHANGE = "change"  # the row's change itself (the only PATCH)
    READ_BACK = "read-back"  # the state after a lost answer
    READ = "read"  # a read that is the work itself (verify, a listing page)

    @property
    def method(self) -> str:
        return "PATCH" if self is Step.CHANGE else "GET"


class Target(Protocol):
    """What a request is about, for its log line: a row of a job, a page of a listing."""

    @property
    def row(self) -> int: ...
    @property
    def conversation_id(self) -> int | None: ...


class Interrupted(Exception):
    """The run stopped between two attempts of a request: it was not sent again."""


class Stale(Exception):
    """The state a guarded change was judged on is older than the guard's max age at the
    moment the change would go out (`fresh`): read it again, then decide. Raised before
    anything is sent."""


class Watcher:
    """A rule that watches requests: each hook may return the `Stop` the run must make.
    The defaults watch nothing; a rule overrides what it needs."""

    def sent(self, now: float) -> None:
        """A request goes out (loop time `now`)."""

    def answered(self, failure: RequestError | None, now: float) -> Stop | None:
        """A request came back: `None` if it went through, else what it met."""
        return None

    def finished(self, failure: RequestError | None) -> Stop | None:
        """An item's requests are over: `None` if its work went through, else the error
        that ended it."""
        return None


class Requester:
    """The request path of one command: its pacing, retries and watchers, shared by all
    its items. `concurrency`: the engine's gate, told when an item cannot take a permit
    (a request out, a retry wait), so that another item stands ready at the meter."""

    def __init__(self, limiter: RateLimiter, policy: RetryPolicy, control: RunControl, *,
                 watchers: Iterable[Watcher] = (), concurrency: Concurrency | None = None,
                 ) -> None:
        self._limiter = limiter
        self._given = policy
        self._gate = concurrency
        if concurrency is not None:
            policy = dataclasses.replace(policy, sleep=functools.partial(
                _busy_sleep, concurrency, policy.sleep))
        self.policy = policy
        self.control = control
        self._watchers = tuple(watchers)

    def reading(self) -> Requester:
        """The same path with one retry at most: a read-back must not double the load on
        a failing API."""
        policy = dataclasses.replace(self._given,
                                     max_attempts=min(self._given.max_attempts, 2))
        return Requester(self._limiter, policy, self.control, watchers=self._watchers,
                         concurrency=self._gate)

    async def request(self, item: Target, tally: Tally, step: Step,
                      send: Callable[[Any], Awaitable[T]], *,
                      fresh: Callable[[float], bool] | None = None) -> T:
        """`send(item)`, paced and retried: its answer, or the last `RequestError` once
        out of budget; `Interrupted` if the run stops between tries. `fresh(now)`, for a
        guarded change: False raises `Stale` instead of sending (checked before the
        permit and again once it is granted)."""
        attempt = functools.partial(self._attempt, item, tally, step, send, fresh)
        return await self.policy.run(attempt, tally)

    def finished(self, failure: RequestError | None) -> None:
        """An item's work is over: stop the run if that is what it means."""
        if isinstance(failure, Unauthorized):
            self.control.halt(StopReason.UNAUTHORIZED, f"the API answered {failure.message}")
            return
        for watcher in self._watchers:
            self._obey(watcher.finished(failure))

    def _obey(self, stop: Stop | None) -> None:
        if stop is not None:
            self.control.halt(stop.reason, stop.detail)

    async def _attempt(self, item: Target, tally: Tally, step: Step,
                       send: Callable[[Any], Awaitable[T]],
                       fresh: Callable[[float], bool] | None) -> T:
        loop = asyncio.get_running_loop()
        if fresh is not None and not fresh(loop.time()):
            raise Stale()  # no permit spent on a change that would not go
        await self._limiter.acquire()
        if not self.control.may_start():
            # Stopping (or the --finish-by window closed) while this item waited for its
            # permit, or between two of its requests: no request starts after a stop.
            raise Interrupted()
        sent_at = loop.time()
        if fresh is not None and not fresh(sent_at):
            raise Stale()  # the permit's wait made it old (a long shared pause)
        tally.requests += 1
        if tally.first_sent_at is None:
            tally.first_sent_at = sent_at
        if step is not Step.CHANGE:
            tally.reads += 1
        for watcher in self._watchers:
            watcher.sent(sent_at)
        gate = self._gate
        if gate is not None:
            gate.busy()
        try:
            with self.control.requesting():
                answer = await send(item)
        except asyncio.CancelledError:
            tally.cut_in_flight = True
            raise
        except RequestError as exc:
            self._failed(exc, item, tally, step, loop.time() - sent_at)
            raise
        finally:
            if gate is not None:
                gate.ready()
        tally.ok += 1
        tally.last_status = 200
        now = loop.time()
        _log(step, item, tally, 200, now - sent_at, "")
        for watcher in self._watchers:
            self._obey(watcher.answered(None, now))
        return answer

    def _failed(self, exc: RequestError, item: Target, tally: Tally, step: Step,
                elapsed_s: float) -> None:
        """What a failed request tells: the tally, the log, a 429's pause, the watchers;
        and `Interrupted` for a transient failure once the run is stopping (no retry)."""
        _log(step, item, tally, exc.http_status, elapsed_s, exc.message)
        tally.last_status = exc.http_status
        tally.last_error = exc.message
        if step is Step.CHANGE and exc.may_have_applied:
            tally.maybe_applied = True
        if isinstance(exc, RateLimited):
            # A long Retry-After ("the quota is used up for now") pauses every sender; a
            # short one is the item's own wait (`RetryPolicy.wait_s`).
            pause = self.policy.pause_for(exc.retry_after_s)
            tally.throttled += 1
            tally.throttled_wait_s += pause
            tally.asked_wait_s = max(tally.asked_wait_s, exc.retry_after_s or 0.0)
            if self.policy.shared_pause(pause):
                self._limiter.pause(pause)
        now = asyncio.get_running_loop().time()
        for watcher in self._watchers:
            self._obey(watcher.answered(exc, now))
        if isinstance(exc, TransientError) and self.control.stopping:
            raise Interrupted() from exc


async def _busy_sleep(gate: Concurrency, sleep: Callable[[float], Awaitable[None]],
                      seconds: float) -> None:
    """A retry's wait, during which the item is busy: it cannot take the next permit."""
    gate.busy()
    try:
        await sleep(seconds)
    finally:
        gate.ready()


def _log(step: Step, item: Target, tally: Tally, status: int | None, elapsed_s: float,
         error: str) -> None:
    if not REQUEST_LOG.isEnabledFor(logging.INFO):
        return
    cid = item.conversation_id
    path = "/conversations" if cid is None else f"/conversations/{cid}"
    method = step.method
    REQUEST_LOG.log(
        _level(status), "%s %s row=%s attempt=%s -> %s %.0f ms%s", method, path, item.row,
        tally.requests, status or "no answer", elapsed_s * 1000, f" ({error})" if error else "",
        extra={"method": method, "path": path, "conversation_id": cid,
               "http_status": status, "attempt": tally.requests, "row": item.row,
               "duration_ms": round(elapsed_s * 1000), "error": error or None})


def _level(status: int | None) -> int:
    """info when it went through; a warning for what did not (5xx, 429, no answer, a
    refusal): the run goes on. A 401 is an error: it stops the run."""
    if status is not None and 200 <= status < 300:
        return logging.INFO
    return logging.ERROR if status == 401 else logging.WARNING
