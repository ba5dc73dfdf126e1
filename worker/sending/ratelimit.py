"""Pacing: a GCRA meter with one queue and one shared pause.

`RateLimiter.acquire()` returns when one more request may start. Semantics, exactly:
- Permits are spaced T = 1 / rate apart (GCRA: grant when now >= TAT - tau, then
  TAT = max(TAT, now) + T), with tau = (burst - 1) x T: after an idle period at most
  `burst` permits go at once (burst=1: even spacing, never a burst; but see the jitter).
- Permits are spaced `HEADROOM` (0.1%) wider than 60 / rate_per_minute s, so that any
  whole minute, however it falls, holds at most rate_per_minute requests: the slack
  below lets one permit come up to 2 ms early on its schedule, and a server counting a
  strict sliding minute (300 in any 60 s) would answer the 301st with a 429. The cost
  is 0.06 s per minute.
- Timers fire late (epoll rounds to the millisecond; a busy loop or a GC pause adds
  more). A queued waiter's late grant keeps its slot if it is at most `TIMER_SLACK_S`
  (2 ms) late: without that, a client paced at 60,000/min (T = 1 ms) reached 58% of it
  (bench/pacing.py), at 6,000/min 92%. The price: at 60,000/min up to 3 permits may go
  together (1 + slack / T), which a server's bucket of 3 or more absorbs; at 300/min two
  permits may be 2 ms closer than T. Later than that, the time is lost: a long stall
  never earns a catch-up burst (a server's bucket would answer it with 429s).
- Waiters queue first-in first-out behind one timer: a request is never starved, and
  the loop wakes once per permit, not once per waiter.
- A queued permit comes up to `JITTER` (half) of the interval after its slot, at random
  (at most `MAX_JITTER_S`, 30 ms, so a minute still never holds one more), never before,
  and the schedule is kept: the next slot is still one interval on. Why: a stream paced
  evenly at the quota's own rate takes each token the moment the server's bucket gets
  it back, and a steady neighbour on the same quota is refused every time while we are
  never told (bench/sharing.py: 150 of its requests in 8 s, not one of ours). Late by
  less than an interval from a fixed schedule, a server's bucket of 2 never refuses us.
- `pause(seconds)` (a 429's Retry-After) holds every caller, those already queued and
  those who come later; a permit granted just before the pause is taken back. After
  the pause requests resume one per T: no catch-up burst, and jitter of up to T so that
  we and the other integrations on the same quota do not all come back on one tick.
- A cancelled waiter leaves the queue and strands nobody; a permit granted to a task
  cancelled in that instant is lost: the rate is at most lowered a little, never exceeded.
- It is not a semaphore: nothing is given back when a request ends. Concurrency is a
  separate `asyncio.Semaphore` in the engine.

The adaptive rate on top of it (`Aimd`, cut on 429s, climb back) is `worker.sending.aimd`.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from contextvars import ContextVar

__all__ = ["HEADROOM", "JITTER", "MAX_JITTER_S", "TIMER_SLACK_S", "RateLimiter", "granted_at",
           "loop_time"]

TIMER_SLACK_S = 0.002  # the event loop's timers fire up to ~1 ms late (epoll rounds to ms)
HEADROOM = 0.001  # permits 0.1% further apart than the rate: a minute never holds one more
JITTER = 0.5  # a queued permit comes up to this share of the interval after its slot
MAX_JITTER_S = 30 * HEADROOM  # ... and at most half what the headroom leaves in a minute
_EPSILON_S = 1e-9

# When the current task's last permit was granted (loop time): `worker.sending.aimd` reads it to
# tell a fresh 429 from one answering a request sent before the last cut.
_granted_at: ContextVar[float | None] = ContextVar("partoo_permit_granted_at", default=None)


def granted_at() -> float | None:
    """Loop time of the current task's last permit, None if it has had none."""
    return _granted_at.get()


def loop_time() -> float:
    # The event loop's clock, so tests that fake loop time (looptime) fake ours too.
    return asyncio.get_running_loop().time()


class RateLimiter:
    def __init__(self, rate_per_minute: float, burst: int = 1, *,
                 jitter: float = JITTER) -> None:
        if rate_per_minute <= 0 or burst < 1 or not 0 <= jitter < 1:
            raise ValueError("rate_per_minute must be > 0, burst >= 1, 0 <= jitter < 1")
        self._jitter = jitter
        self.max_rate_per_s = rate_per_minute / 60.0
        self._burst = burst
        self._set(self.max_rate_per_s)
        self._tat = float("-inf")  # theoretical arrival time of the next permit
        self._paused_until = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_for = 0.0  # the slot the timer serves (it fires up to a jitter later)
        self._offset = 0.0  # how much later than its slot the current timer fires

    @property
    def paused_until(self) -> float:
        return self._paused_until

    @property
    def waiting(self) -> int:
        """Callers queued for a permit: > 0 means the meter is what holds requests back."""
        return len(self._waiters)

    def _set(self, rate_per_s: float) -> None:
        # Kept as plain attributes: read for every permit.
        self.rate_per_s = rate_per_s
        self._interval = (1.0 + HEADROOM) / rate_per_s
        self._jitter_s = min(self._jitter * self._interval, MAX_JITTER_S)
        self._tau = (self._burst - 1) * self._interval

    def set_rate(self, rate_per_s: float) -> None:
        """Change the rate from the next permit on (bounded by the configured rate)."""
        self._set(max(1e-6, min(rate_per_s, self.max_rate_per_s)))
        if self._waiters:
            self._schedule(loop_time())

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._waiters and self._grantable(now):
            self._take(now)
            _granted_at.set(now)
            return
        front = False
        while True:
            future: asyncio.Future[None] = loop.create_future()
            if front:
                self._waiters.appendleft(future)
            else:
                self._waiters.append(future)
            self._schedule(loop.time())
            try:
                await future
            except asyncio.CancelledError:
                if future in self._waiters:  # cancelled while queued: leave the queue
                    self._waiters.remove(future)
                    self._schedule(loop.time())
                raise
            if self._paused_until <= loop.time():
                break
            front = True  # a pause began between the grant and now: first in line again
        _granted_at.set(loop.time())

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` from now (extends, never shortens, a pause)."""
        now = loop_time()
        until = now + max(seconds, 0.0) + random.uniform(0, self._interval)
        if until <= self._paused_until:
            return
        self._paused_until = until
        # Resume with an empty bucket: the first permit at `until`, the next one T later.
        self._tat = max(self._tat, until + self._tau)
        if self._waiters:
            self._schedule(now)

    def _grantable(self, now: float) -> bool:
        # _EPSILON_S: asyncio runs a timer up to its clock resolution early, and a TAT
        # summed from thousands of intervals carries float error.
        now += _EPSILON_S
        return now >= self._paused_until and now >= self._tat - self._tau

    def _take(self, now: float, *, queued: bool = False) -> None:
        # A queued waiter's grant that comes late (the timer, a busy loop) is charged up
        # to TIMER_SLACK_S earlier, keeping the schedule; beyond that the time is lost.
        # The jitter we put on the timer ourselves is no loss: charged from the slot.
        charged = now - TIMER_SLACK_S - self._offset if queued else now
        self._tat = max(self._tat, charged) + self._interval

    def _schedule(self, now: float) -> None:
        """Grant what is due now; arm the one timer for the next waiter, if any."""
        while self._waiters and self._grantable(now):
            future = self._waiters.popleft()
            if not future.done():
                self._take(now, queued=True)
                future.set_result(None)
        when = max(self._paused_until, self._tat - self._tau) if self._waiters else None
        if self._timer is not None and (when is None or self._timer_for != when):
            self._timer.cancel()
            self._timer = None
        if when is not None and self._timer is None:
            self._timer_for = when
            self._offset = random.uniform(0.0, self._jitter_s)
            self._timer = asyncio.get_running_loop().call_at(when + self._offset,
                                                             self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._schedule(loop_time())
