"""The adaptive rate: additive increase, multiplicative decrease, driven by 429s.

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

from collections.abc import Callable

from worker.sending.ratelimit import RateLimiter, granted_at, loop_time

__all__ = ["Aimd"]

Clock = Callable[[], float]


class Aimd:
    """Additive-increase / multiplicative-decrease of a limiter's rate, driven by 429s.

    Call `on_throttled()` and `on_success()` from the task that acquired the permit for
    that request (the row's work does); see the module docstring for the rules.
    """

    def __init__(self, limiter: RateLimiter, *, clock: Clock = loop_time,
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
            sent_at = granted_at()
        if sent_at is not None and sent_at < self._cut_effective:
            return False  # sent before the last cut took effect: that cut answered it
        if now - self._last_cut < self._cooldown_s:
            return False
        limiter = self._limiter
        limiter.set_rate(max(self._floor, limiter.rate_per_s * self._decrease))
        self._last_cut = now
        # The row's work pauses the limiter before telling us: the new rate starts after it.
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
