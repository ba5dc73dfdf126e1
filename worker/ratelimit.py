"""Pacing: a GCRA meter with one queue and one shared pause, and an AIMD policy on top.

`RateLimiter.acquire()` returns when one more request may start. Semantics, exactly:
- Permits are spaced T = 1 / rate apart (GCRA: grant when now >= TAT - tau, then
  TAT = max(TAT, now) + T), with tau = (burst - 1) x T: after an idle period at most
  `burst` permits go at once (burst=1: even spacing, never a burst).
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
- `pause(seconds)` (a 429's Retry-After) holds every caller, those already queued and
  those who come later; a permit granted just before the pause is taken back. After
  the pause requests resume one per T: no catch-up burst, and jitter of up to T so that
  we and the other integrations on the same quota do not all come back on one tick.
- A cancelled waiter leaves the queue and strands nobody; a permit granted to a task
  cancelled in that instant is lost: the rate is at most lowered a little, never exceeded.
- It is not a semaphore: nothing is given back when a request ends. Concurrency is a
  separate `asyncio.Semaphore` in the engine.

`Aimd` adapts the rate to a quota shared with other clients (their CRM sync, their chat
widget), whose use we cannot see except through 429s:
- Decrease: on a 429, rate x `decrease`, once per signal. A 429 answering a request sent
  before the last cut took effect (it was sent at the old rate, or before the pause the
  cut came with) is the same signal, however many arrive; and cuts are at least
  `cooldown_s` apart. "Sent when" is the permit time `acquire()` recorded for the task.
  A fixed cool-down alone would not do: with Retry-After shorter than it, the requests
  sent between two pauses would keep meeting 429s at a rate we had no right to keep.
- Increase: on a success while callers queue at the meter (the rate, not concurrency
  nor the server's latency, is what holds us back), rate + `increase_per_s` x seconds
  of such time since the last step, pauses not counted. A climb from one cut back to
  the configured rate takes about `recovery_s`, whatever the rate.
- Bounds: never above the configured rate, never below `floor` of it.
- Defaults: cut by 10%, back up in about a minute. Every cut comes with a Retry-After
  pause, so the cycle (cut, climb, next 429) must be long beside that pause, and the
  cut small, or the pauses and the dips eat the quota. With another integration taking
  a third of the quota (bench/sharing.py): 92% of what it left, 0.2% 429s; cutting 15%
  and climbing back in 30 s gave 88-90%.
- What it cannot see: when the server's bucket is empty, the next request of *anyone*
  gets the 429. A steady client on the same quota may take 429s that our overshoot
  caused; then we only learn later, from our own.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar

__all__ = ["HEADROOM", "TIMER_SLACK_S", "Aimd", "RateLimiter"]

Clock = Callable[[], float]

TIMER_SLACK_S = 0.002  # the event loop's timers fire up to ~1 ms late (epoll rounds to ms)
HEADROOM = 0.001  # permits 0.1% further apart than the rate: a minute never holds one more
_EPSILON_S = 1e-9

# When the current task's last permit was granted (loop time): `Aimd.on_throttled` reads
# it to tell a fresh 429 from one answering a request sent before the last cut.
_granted_at: ContextVar[float | None] = ContextVar("partoo_permit_granted_at", default=None)


def _loop_time() -> float:
    # The event loop's clock, so tests that fake loop time (looptime) fake ours too.
    return asyncio.get_running_loop().time()


class RateLimiter:
    def __init__(self, rate_per_minute: float, burst: int = 1) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate_per_minute must be > 0 and burst >= 1")
        self.max_rate_per_s = rate_per_minute / 60.0
        self.rate_per_s = self.max_rate_per_s
        self._burst = burst
        self._tat = float("-inf")  # theoretical arrival time of the next permit
        self._paused_until = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def paused_until(self) -> float:
        return self._paused_until

    @property
    def waiting(self) -> int:
        """Callers queued for a permit: > 0 means the meter is what holds requests back."""
        return len(self._waiters)

    @property
    def _interval(self) -> float:
        return (1.0 + HEADROOM) / self.rate_per_s

    @property
    def _tau(self) -> float:
        return (self._burst - 1) * self._interval

    def set_rate(self, rate_per_s: float) -> None:
        """Change the rate from the next permit on (bounded by the configured rate)."""
        self.rate_per_s = max(1e-6, min(rate_per_s, self.max_rate_per_s))
        if self._waiters:
            self._schedule(_loop_time())

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        if not self._waiters and self._grantable(loop.time()):
            self._take(loop.time())
        else:
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
        now = _loop_time()
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
        charged = now - TIMER_SLACK_S if queued else now
        self._tat = max(self._tat, charged) + self._interval

    def _schedule(self, now: float) -> None:
        """Grant what is due now; arm the one timer for the next waiter, if any."""
        while self._waiters and self._grantable(now):
            future = self._waiters.popleft()
            if not future.done():
                self._take(now, queued=True)
                future.set_result(None)
        when = max(self._paused_until, self._tat - self._tau) if self._waiters else None
        if self._timer is not None and (when is None or self._timer.when() != when):
            self._timer.cancel()
            self._timer = None
        if when is not None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._schedule(_loop_time())


class Aimd:
    """Additive-increase / multiplicative-decrease of a limiter's rate, driven by 429s.

    Call `on_throttled()` and `on_success()` from the task that acquired the permit for
    that request (the engine does); see the module docstring for the rules.
    """

    def __init__(self, limiter: RateLimiter, *, clock: Clock = _loop_time,
                 decrease: float = 0.9, recovery_s: float = 60.0,
                 cooldown_s: float = 1.0, floor: float = 0.05) -> None:
        self._limiter = limiter
        self._clock = clock
        self._decrease = decrease
        # Climb from one cut back to the full rate in about recovery_s.
        self.increase_per_s = limiter.max_rate_per_s * (1 - decrease) / recovery_s
        self._cooldown_s = cooldown_s
        self._floor = floor * limiter.max_rate_per_s
        self._last_cut = float("-inf")
        self._cut_effective = float("-inf")  # requests sent from then on saw the lower rate
        self._last_step: float | None = None
        self.cuts = 0

    def on_throttled(self, sent_at: float | None = None) -> bool:
        """A 429 arrived. Returns True if it cut the rate (a fresh signal)."""
        now = self._clock()
        if sent_at is None:
            sent_at = _granted_at.get()
        if sent_at is not None and sent_at < self._cut_effective:
            return False  # sent before the last cut took effect: that cut answered it
        if now - self._last_cut < self._cooldown_s:
            return False
        limiter = self._limiter
        limiter.set_rate(max(self._floor, limiter.rate_per_s * self._decrease))
        self._last_cut = now
        # The engine pauses the limiter before telling us: the new rate starts after it.
        self._cut_effective = max(now, limiter.paused_until)
        self._last_step = self._cut_effective
        self.cuts += 1
        return True

    def on_success(self) -> None:
        now = self._clock()
        last = self._last_step
        self._last_step = now if last is None else max(now, last)
        limiter = self._limiter
        if last is None or limiter.waiting == 0:
            return  # not held back by the meter: a higher rate would be a promise untested
        elapsed = now - max(last, limiter.paused_until)  # time paused is no evidence
        if elapsed > 0 and limiter.rate_per_s < limiter.max_rate_per_s:
            limiter.set_rate(limiter.rate_per_s + self.increase_per_s * elapsed)
