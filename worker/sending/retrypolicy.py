"""Retry policy for one operation, built on tenacity, and the `Tally` of what the
operation's requests have spent (which the policy's budgets read). The server's
Retry-After comes as `TransientError.retry_after_s` (parsed in `worker.partoo.answers`).

`RetryPolicy.retrying(tally)` builds a fresh `AsyncRetrying` for each operation: one shared
instance keeps its state per thread, and every asyncio task shares the thread.

Two budgets, kept apart:
- transient failures (5xx, timeouts, resets) count against `max_attempts`, with full-jitter
  exponential backoff (or the server's Retry-After, whichever is longer);
- 429s do not use up attempts, and the row gives up only once its own total 429 wait
  passes `rate_limit_budget_s`. A short Retry-After (at most `row_wait_max_s`, 1 s: the
  least a server can ask for in whole seconds, "slow down") is the row's own wait, then
  it queues at the meter again, paced, while the others go on at the adapted rate; a
  longer one ("the quota is used up for now") pauses every sender, in the rate limiter
  (the request path, `worker.sending.requester`, decides which).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from worker.config import default
from worker.core.errors import RateLimited, TransientError

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, RetryCallState

__all__ = ["RetryPolicy", "Tally"]

T = TypeVar("T")


@dataclass(slots=True)
class Tally:
    """What one item's requests have spent: requests, 429s, seconds paused on 429s."""

    requests: int = 0
    ok: int = 0  # of `requests`, those that succeeded (a state read before the change)
    reads: int = 0  # of `requests`, the GETs (guard, undo capture, read-back)
    throttled: int = 0
    throttled_wait_s: float = 0.0
    asked_wait_s: float = 0.0  # the longest Retry-After the server asked for
    first_sent_at: float | None = None  # loop time the first request went out
    cut_in_flight: bool = False  # cancelled while a request was out: it may have landed
    maybe_applied: bool = False  # an answer to the change left open whether it landed
    last_status: int | None = None  # the HTTP status of the last answer, if one came
    last_error: str = ""  # what the last failed request met, for a row left unfinished

    @property
    def failures(self) -> int:
        """Requests that failed for a reason other than a 429: what `max_attempts` counts."""
        return self.requests - self.throttled - self.ok

    def add(self, other: Tally) -> None:
        """Count `other`'s requests (a read-back's, with its own budget) as this item's."""
        self.requests += other.requests
        self.reads += other.reads
        self.ok += other.ok
        self.throttled += other.throttled
        self.throttled_wait_s += other.throttled_wait_s


DEFAULT_RETRY_AFTER_S = 5.0  # when a 429 says nothing usable about when to come back
MIN_RETRY_AFTER_S = 1.0  # "Retry-After: 0" (or a past date) after a 429 is not "no wait"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    # The settings' defaults, not copies of them (`worker.config.default`).
    max_attempts: int = default("max_attempts")
    max_retry_after_s: float = default("max_retry_after_s")
    rate_limit_budget_s: float = default("rate_limit_budget_s")
    backoff_base_s: float = default("backoff_base_s")
    backoff_max_s: float = default("backoff_max_s")
    row_wait_max_s: float = 1.0  # a 429 asking for longer pauses every sender
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def pause_for(self, retry_after_s: float | None) -> float:
        """How long to pause for a 429: the server's word, bounded."""
        asked = DEFAULT_RETRY_AFTER_S if retry_after_s is None else retry_after_s
        # A floor, or a storm of "Retry-After: 0" would never spend the row's 429 budget.
        return min(max(asked, MIN_RETRY_AFTER_S), self.max_retry_after_s)

    def shared_pause(self, pause_s: float) -> bool:
        """Does a 429's pause hold every sender (True), or only the row that met it?"""
        return pause_s > self.row_wait_max_s

    async def run(self, attempt: Callable[[], Awaitable[T]], tally: Tally) -> T:
        """`await attempt()` until it succeeds (its value is returned); re-raise the last
        error once out of budget.

        The first call goes outside tenacity: an `AsyncRetrying` per row costs about as
        much CPU as the request itself (bench/overhead.py), and most rows succeed at once.
        A transient failure brings tenacity in, with the same stop and wait rules.
        """
        try:
            return await attempt()
        except TransientError as exc:
            if self.gives_up(exc, tally):
                raise
            await self.sleep(self.wait_s(exc, tally))
        async for trial in self.retrying(tally):
            with trial:
                result = await attempt()
        return result

    def gives_up(self, exc: BaseException | None, tally: Tally) -> bool:
        if isinstance(exc, RateLimited):
            return tally.throttled_wait_s >= self.rate_limit_budget_s
        return tally.failures >= self.max_attempts

    def wait_s(self, exc: BaseException | None, tally: Tally) -> float:
        if isinstance(exc, RateLimited):
            pause = self.pause_for(exc.retry_after_s)
            # A long one is the shared pause in the rate limiter, which does the waiting.
            return 0.0 if self.shared_pause(pause) else pause
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (tally.failures - 1))
        backoff = random.uniform(0, ceiling)
        server = exc.retry_after_s if isinstance(exc, TransientError) else None
        return max(backoff, min(server, self.max_retry_after_s)) if server else backoff

    def retrying(self, tally: Tally) -> AsyncRetrying:
        """A fresh tenacity loop for one operation (never shared between tasks).
        tenacity is imported here, on a row's first retry: most runs never need it."""
        from tenacity import AsyncRetrying, retry_if_exception_type

        def stop(state: RetryCallState) -> bool:
            return self.gives_up(state.outcome.exception() if state.outcome else None, tally)

        def wait(state: RetryCallState) -> float:
            return self.wait_s(state.outcome.exception() if state.outcome else None, tally)

        return AsyncRetrying(retry=retry_if_exception_type(TransientError), stop=stop,
                             wait=wait, sleep=self.sleep, reraise=True)
