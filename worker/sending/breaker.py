"""A circuit breaker over the last rows sent: when the API is down, stop spending quota.

Like S3 Batch Operations' failure threshold, but over a sliding window so that a job
that was fine for an hour still stops minutes after the API breaks. A row counts as
bad when the server, not the row, is at fault: a transient failure that outlived its
retries, or an answer that is not Partoo's. Rows the API refused (400, 404, ...) count
as good: they prove the API is up.
"""

from __future__ import annotations

from collections import deque

__all__ = ["Breaker"]


class Breaker:
    def __init__(self, window: int, threshold: float) -> None:
        # No defaults of its own: `failure_window` / `failure_threshold` are the settings'.
        self._recent: deque[bool] = deque(maxlen=window)
        self._bad = 0
        self._window = window
        self._threshold = threshold
        # Trip as soon as this many bad rows sit in the window, even before it is full.
        self._trip_at = max(1, round(window * threshold))

    def record(self, *, bad: bool) -> bool:
        """Count one finished row; True when the breaker trips."""
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._bad -= 1
        self._recent.append(bad)
        self._bad += bad
        return self._bad >= self._trip_at

    def explain(self, last_error: str, *, throttled: bool = False) -> str:
        """Why the run stops. `throttled`: the last bad row gave up on 429s, so the quota,
        not the API, is what failed (used up by other integrations, or set lower)."""
        why = ("the organization's quota stays used up: check what else uses the key's "
               "organization, or lower rate_per_minute" if throttled else
               "the API looks down")
        return (f"circuit breaker: {self._bad} of the last {len(self._recent)} rows sent failed "
                f"on the server's side (last: {last_error}); {why}")
