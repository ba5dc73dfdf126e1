"""Concurrency that follows latency: as many rows out as the rate needs, up to a cap.

The rate meter (`worker.sending.ratelimit`) decides when a request may start; concurrency
only has to be enough for it. By Little's law, requests in flight = rate x latency: a
1,200/min quota (20/s) needs 10 requests out at once against an API answering in 500 ms,
60 against one answering in 3 s. A fixed number of slots is wrong for one of them (8
slots held a 1,200/min quota at 960/min against 500 ms, and nothing said so).

`Concurrency` is the engine's gate. A row is *busy* while one of its requests is out or
while it waits out a retry (a backoff, a 429's Retry-After), and *ready* otherwise: on
its way to the meter or queued there. The engine starts another row only while fewer
than `spare` rows are ready, and never more than `cap` rows at once. So:
- it grows with latency, at once: a request that is slow to come back keeps its row
  busy, the rows ready fall below `spare`, and the engine starts another. In flight
  comes to rate x latency, plus `spare` rows waiting for their permit, with no latency
  estimate to lag behind a change (bench/latency.py: at 3,000/min against 300 ms, 15
  requests out; against 1 s, 50);
- it never sends faster than the rate, and never in a burst: the rows it lets start
  queue at the meter, which spaces them; at most `spare` of them wait there;
- it shrinks again when latency falls: requests come back sooner, their rows are ready
  for the next permit, and no new row starts until the ready ones are taken;
- it never goes past `cap` (`--concurrency`, 64 by default: 3,000/min against replies of
  1.3 s). When the cap, not the rate, holds requests back (every row busy, none ready
  for the next permit), that time is counted (`cap_held_s`), and the run says
  "concurrency 64 reached: raise --concurrency".

`spare` (2, more at high rates: `spare_for`) covers the turn of the event loop between
a permit and the next row reaching the meter; with one, a permit at 60,000/min (1 ms
apart) sometimes found nobody waiting.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from worker.sending.ratelimit import loop_time

__all__ = ["Concurrency", "spare_for"]

SPARE = 2  # rows kept ready for the next permit, at least
_SPARE_COVER_S = 0.005  # ... and as many as the meter grants in this long (a busy loop turn)


def spare_for(rate_per_s: float) -> int:
    """Rows to keep ready at this rate: the permits of a busy loop turn, at least 2."""
    return max(SPARE, math.ceil(rate_per_s * _SPARE_COVER_S))


class Concurrency:
    """Rows in flight: the engine `acquire`s before it starts a row and the row
    `release`s when it ends; in between, the row's work marks each request and each
    retry wait with `busy()` ... `ready()`."""

    def __init__(self, cap: int, *, spare: int = SPARE,
                 clock: Callable[[], float] = loop_time) -> None:
        if cap < 1 or spare < 1:
            raise ValueError("cap and spare must be >= 1")
        self.cap = cap
        self._spare = spare
        self._clock = clock
        self.in_use = 0  # rows started and not ended
        self.busy_rows = 0  # of them, with a request out or a retry wait running
        self.most_in_use = 0
        self.most_busy = 0  # the most rows busy at once: requests out (or retry waits)
        self.cap_held_s = 0.0  # time every one of `cap` rows was busy
        self._held_since: float | None = None
        self._waiter: asyncio.Future[None] | None = None

    def cap_held(self) -> float:
        """Seconds so far during which the cap held requests back (every row busy)."""
        held = self.cap_held_s
        if self._held_since is not None:
            held += self._clock() - self._held_since
        return held

    def _room(self) -> bool:
        return self.in_use < self.cap and self.in_use - self.busy_rows < self._spare

    def try_acquire(self) -> bool:
        """Take a place for another row if there is one now (no wait)."""
        if not self._room():
            return False
        self.in_use += 1
        if self.in_use > self.most_in_use:
            self.most_in_use = self.in_use
        return True

    async def acquire(self) -> None:
        """Wait until another row may start (one waiter at a time: the engine)."""
        while not self._room():
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self.in_use += 1
        if self.in_use > self.most_in_use:
            self.most_in_use = self.in_use

    def release(self) -> None:
        """A row ended (done, skipped or cancelled)."""
        self.in_use -= 1
        self._wake()

    def busy(self) -> None:
        """A row sends a request or starts a retry wait: it cannot take a permit."""
        self.busy_rows += 1
        if self.busy_rows > self.most_busy:
            self.most_busy = self.busy_rows
        if self.busy_rows >= self.cap and self._held_since is None:
            self._held_since = self._clock()
        self._wake()

    def ready(self) -> None:
        """The request came back (or the wait ended): the row may take a permit again."""
        self.busy_rows -= 1
        if self._held_since is not None:
            self.cap_held_s += self._clock() - self._held_since
            self._held_since = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done() and self._room():
            waiter.set_result(None)
