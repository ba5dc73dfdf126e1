"""Token-bucket rate limiting, one bucket per API key, as the simulated server applies it.

Semantics: a bucket holds at most `burst` tokens and starts full; it refills continuously at
`rate_per_minute / 60` tokens per second. A request takes one token or is refused with the
time until the next token exists. A refused request takes nothing, so a client that
hammers the server while limited does not push its own recovery further away.

Partoo counts its quota per organization, not per key; the simulator keys buckets by API
key, which is the same thing as long as each test organization has one key.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["KeyedRateLimiter", "TokenBucket"]

Clock = Callable[[], float]


class TokenBucket:
    def __init__(self, rate_per_minute: float, burst: int, clock: Clock = time.monotonic) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate_per_minute must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_minute / 60
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def try_acquire(self) -> float:
        """Take a token: 0.0 if granted, else the seconds until one is available."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate_per_s


class KeyedRateLimiter:
    """One `TokenBucket` per API key, created on first use."""

    def __init__(
        self, rate_per_minute: float, burst: int | None = None, clock: Clock = time.monotonic
    ) -> None:
        """`burst` defaults to a minute's worth of requests (Partoo's quota is per minute)."""
        self.rate_per_minute = rate_per_minute
        self.burst = burst if burst is not None else max(1, int(rate_per_minute))
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        TokenBucket(rate_per_minute, self.burst, clock)  # validate now, not on first request

    def retry_after(self, key: str) -> int | None:
        """None if the request may proceed, else whole seconds to send in Retry-After (>= 1)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate_per_minute, self.burst, self._clock)
        wait_s = bucket.try_acquire()
        return None if wait_s == 0.0 else max(1, math.ceil(wait_s))
