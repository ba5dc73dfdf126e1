"""Pacing: a GCRA meter with a shared pause, and an AIMD policy that steers its rate.

`RateLimiter.acquire()` returns when one more request may start. Semantics, exactly:
- Requests are spaced by T = 1 / rate seconds. After an idle period at most `burst`
  requests may start at once (burst=1: perfectly even spacing, never a burst).
- Each caller reserves its own slot (the meter's theoretical arrival time moves on by T),
  so waiters sleep once, to their slot, instead of all waking for every permit.
- `pause(seconds)` is one pause for every caller (a 429's Retry-After): nobody starts
  before it ends, and afterwards requests resume one per T, with no catch-up burst.
- A cancelled waiter gives its slot up to nobody: the rate is at most lost a little,
  never exceeded, and the other waiters are not stranded.
- It is not a semaphore: nothing is given back when a request ends. Concurrency is a
  separate `asyncio.Semaphore` in the engine.

`Aimd` adapts the rate to a quota shared with other clients: multiplicative decrease on
429 (at most once per cool-down, however many 429s arrive together), additive increase
while the meter is what holds requests back, never above the configured rate.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

__all__ = ["Aimd", "RateLimiter"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def _loop_time() -> float:
    # The event loop's clock, so tests that fake loop time (looptime) fake ours too.
    return asyncio.get_running_loop().time()


class RateLimiter:
    def __init__(self, rate_per_minute: float, burst: int = 1, *,
                 clock: Clock = _loop_time, sleep: Sleep = asyncio.sleep) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate_per_minute must be > 0 and burst >= 1")
        self.max_rate_per_s = rate_per_minute / 60.0
        self.rate_per_s = self.max_rate_per_s
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tat: float | None = None  # theoretical arrival time of the next request
        self._paused_until = float("-inf")
        self.waiting = 0  # callers inside acquire(): > 0 means the meter is the bottleneck

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def set_rate(self, rate_per_s: float) -> None:
        self.rate_per_s = max(1e-6, min(rate_per_s, self.max_rate_per_s))

    async def acquire(self) -> None:
        self.waiting += 1
        try:
            while True:
                now = self._clock()
                interval = 1.0 / self.rate_per_s
                tolerance = (self._burst - 1) * interval
                tat = now if self._tat is None else self._tat
                slot = max(now, tat - tolerance, self._paused_until)
                self._tat = max(tat, slot) + interval
                if slot > now:
                    await self._sleep(slot - now)
                # A pause that began while we slept voids our slot: take a new one.
                if self._paused_until <= self._clock():
                    return
        finally:
            self.waiting -= 1

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` from now (extends, never shortens, a pause)."""
        now = self._clock()
        interval = 1.0 / self.rate_per_s
        # A little jitter so that we and the other integrations sharing the quota do not
        # all come back on the same tick.
        until = now + seconds + random.uniform(0, interval)
        if until <= self._paused_until:
            return
        self._paused_until = until
        # Restart pacing at the end of the pause with an empty bucket: no burst.
        tolerance = (self._burst - 1) * interval
        self._tat = until + tolerance


class Aimd:
    """Additive-increase / multiplicative-decrease of a limiter's rate, driven by 429s.

    - On a 429: rate x `decrease`, at most once per `cooldown_s` (a burst of 429s from
      the requests already in flight is one signal, not twenty).
    - On a success while callers wait on the meter: rate + `increase_per_s` x (seconds
      since the last step), so the climb back is linear in time, whatever the rate.
    - Never above the configured rate, never below `floor` of it.
    """

    def __init__(self, limiter: RateLimiter, *, clock: Clock = _loop_time,
                 decrease: float = 0.85, recovery_s: float = 30.0,
                 cooldown_s: float = 5.0, floor: float = 0.05) -> None:
        self._limiter = limiter
        self._clock = clock
        self._decrease = decrease
        # Climb from the floor after one cut back to the full rate in about recovery_s.
        self._increase_per_s = limiter.max_rate_per_s * (1 - decrease) / recovery_s
        self._cooldown_s = cooldown_s
        self._floor = floor * limiter.max_rate_per_s
        self._last_cut = float("-inf")
        self._last_step: float | None = None

    def on_throttled(self) -> None:
        now = self._clock()
        if now - self._last_cut < self._cooldown_s:
            return
        self._last_cut = now
        self._last_step = now
        self._limiter.set_rate(max(self._floor, self._limiter.rate_per_s * self._decrease))

    def on_success(self) -> None:
        now = self._clock()
        last, self._last_step = self._last_step, now
        if last is None or self._limiter.waiting == 0:
            return  # not limited by the meter: a higher rate would be a promise untested
        rate = self._limiter.rate_per_s
        if rate < self._limiter.max_rate_per_s:
            self._limiter.set_rate(rate + self._increase_per_s * (now - last))
