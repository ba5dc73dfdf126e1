"""The adaptive rate: on a 429, one step down to the rate the server was measured to
accept; then a gentle probe back up.

The quota is the organization's, shared with its other integrations (their CRM sync,
their chat widget), whose use we see only through 429s. `Aimd` steers the meter's rate:
- Measure: our successful requests per second over the last `window_s` (2 s) since the
  rate last stepped down: what the server accepted from us. While it refuses some of
  ours, that already leaves out what the others take.
- First 429 of the run: rate x `first_cut` (0.7, botocore's beta). Everything sent until
  then went through, so the measure says nothing yet about what is left.
- A later 429: the rate becomes the measured one, if at least `min_window_s` (1 s) was
  measured since the last step (fewer requests are too few to be right within a few %),
  but at least `MIN_STEP` (3%) below the rate and never less than half of it. Sooner
  than that: no step, the row just waits out its Retry-After. The 3%: when the server's
  bucket is empty, whoever comes next is refused; if that is mostly the other
  integration, we measure nearly all of ours accepted and would stay over the quota,
  unseen, while it takes the 429s.
  Only a *fresh* 429 counts: one answering a request sent after the last step took
  effect (sent at the lowered rate; "sent when" is the permit time `acquire()` recorded
  for the task). A volley of 429s for requests sent before is the same signal.
- Increase: on a success while callers queue at the meter (the rate, not concurrency
  nor the server's latency, is what holds us back), by the seconds of such time since
  the last step, pauses not counted: near the last measured rate (within 10%) by
  `probe_per_min` (3%) of it per minute, a gentle probe, since crossing what is left
  empties the server's bucket for everyone, the other integrations included; further
  away (below it after the first cut, or above it once the others have gone quiet), back
  by what the first cut took in `recovery_s` (30 s).
- Bounds: never above the configured rate, never below `floor` (5%) of it.

Figures that chose them (bench/sharing.py: 3,000/min configured, another integration
taking 1,000/min; and a fake-clock model of it, tests/test_aimd.py): a 30 s job gets
0.97-1.0 of what is left with 0.3-0.5% 429s, a 10-minute job 0.98-0.99 with 0.05%.
- Cutting by 10% on every 429 (the rule before) took four cuts from 3,000 to 2,000/min,
  each with a one-second pause for every sender: 0.85-0.87 of what was left in 30 s.
- Pausing every sender for a one-second Retry-After costs a 30 s job 3% by itself: a
  model that knew the answer and stepped to it at once, but paused everyone, reached
  0.966. So a Retry-After of at most `RetryPolicy.row_wait_max_s` (1 s) is the row's
  own wait (`worker.sending.retrypolicy`); only a longer one pauses every sender.
- The measure is taken while over the quota: with the server's bucket just empty it is
  2-5% *below* what is left (some tokens go unused between refusals), so no margin is
  taken off it; a 2% margin gave 0.94-0.96.
- Climbing back to the pre-cut rate within a few seconds put us over the quota before
  the measure, and the other integration took the 429s (we do not see those): 16 in a
  30 s job instead of 2-5. Probing 3%/min: 11 crossings in 10 minutes, each a few
  429s for both; 1%/min: 5 crossings, but 0.98 instead of 0.99.
What it cannot see: when the server's bucket is empty, the next request of *anyone*
gets the 429; a steady client on the same quota may take 429s that our probe caused.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from worker.core.errors import RateLimited, RequestError
from worker.core.stops import Stop
from worker.sending.ratelimit import RateLimiter, granted_at, loop_time
from worker.sending.requester import Watcher

__all__ = ["Aimd"]

Clock = Callable[[], float]

_BUCKET_S = 0.1  # successes are counted per tenth of a second
_NEAR = 0.10  # within 10% of the last measured rate: probe gently
MIN_STEP = 0.03  # a measured step goes at least this far down


class Aimd(Watcher):
    """The adaptive rate of one limiter, driven by 429s (see the module docstring).

    A `Watcher` of the request path, which calls `answered` from the task that acquired
    the permit for that request; `on_throttled()` and `on_success()` are the two signals.
    """

    def __init__(self, limiter: RateLimiter, *, clock: Clock = loop_time,
                 first_cut: float = 0.7, window_s: float = 2.0, min_window_s: float = 1.0,
                 probe_per_min: float = 0.03, recovery_s: float = 30.0,
                 floor: float = 0.05) -> None:
        self._limiter = limiter
        self._clock = clock
        self._first_cut = first_cut
        self._window_s = window_s
        self._min_window_s = min_window_s
        self._probe_per_min = probe_per_min
        self._climb_per_s = limiter.max_rate_per_s * (1 - first_cut) / recovery_s
        self._floor = floor * limiter.max_rate_per_s
        self._buckets: deque[list[int]] = deque()  # [tenth of a second, successes]
        self._step_effective = float("-inf")  # requests sent from then on saw the step
        self._last_step: float | None = None  # growth counts from here
        self.measured: float | None = None  # per second, at the last measured step
        self.cuts = 0

    def accepted_per_s(self, now: float) -> tuple[float, float]:
        """(successes per second, over how many seconds) since the last step, at most
        `window_s` back."""
        start = math.ceil(max(self._step_effective, now - self._window_s) / _BUCKET_S)
        span = now - start * _BUCKET_S
        count = sum(n for tenth, n in self._buckets if tenth >= start)
        return (count / span if span > 0 else 0.0), max(span, 0.0)

    def on_throttled(self, sent_at: float | None = None) -> bool:
        """A 429 arrived. Returns True if it stepped the rate down (a fresh signal)."""
        now = self._clock()
        if sent_at is None:
            sent_at = granted_at()
        if sent_at is not None and sent_at < self._step_effective:
            return False  # sent before the last step took effect: that step answered it
        limiter = self._limiter
        rate = limiter.rate_per_s
        if self.cuts == 0:
            new = rate * self._first_cut
        else:
            accepted, span = self.accepted_per_s(now)
            if span < self._min_window_s:
                return False  # too soon to measure: the row waits out its Retry-After
            if self.measured is None or rate > self.measured:
                accepted = min(accepted, rate * (1 - MIN_STEP))  # over what was accepted
            new = max(min(accepted, rate), rate / 2)
            self.measured = new
        limiter.set_rate(max(self._floor, new))
        # A pause for every sender (a long Retry-After) comes before we are told: the
        # new rate starts after it.
        self._step_effective = max(now, limiter.paused_until)
        self._last_step = self._step_effective
        self.cuts += 1
        return True

    def answered(self, failure: RequestError | None, now: float) -> Stop | None:
        if failure is None:
            self.on_success()
        elif isinstance(failure, RateLimited):
            self.on_throttled()
        return None  # it adapts the rate; it never stops a run

    def on_success(self) -> None:
        last = self._last_step
        if last is None:
            return  # never stepped down: nothing to measure for, nothing to climb back to
        now = self._clock()
        tenth = int(now / _BUCKET_S)
        buckets = self._buckets
        if buckets and buckets[-1][0] == tenth:
            buckets[-1][1] += 1
        else:
            buckets.append([tenth, 1])
            while tenth - buckets[0][0] > self._window_s / _BUCKET_S:
                buckets.popleft()
        self._last_step = max(now, last)
        limiter = self._limiter
        if limiter.waiting == 0 or limiter.rate_per_s >= limiter.max_rate_per_s:
            return  # not held back by the meter: a higher rate would be a promise untested
        elapsed = now - max(last, limiter.paused_until)  # time paused is no evidence
        if elapsed > 0:
            limiter.set_rate(limiter.rate_per_s + self._speed(limiter.rate_per_s) * elapsed)

    def _speed(self, rate: float) -> float:
        """How fast the rate climbs (per second, per second) from where it is."""
        measured = self.measured
        if measured is not None and abs(rate - measured) <= _NEAR * measured:
            return measured * self._probe_per_min / 60
        return self._climb_per_s
