"""Stop a run that gets nowhere: no request has gone through for `timeout_s`.

The circuit breaker (`worker.sending.breaker`) counts rows, and a row ends only once its
retries are spent: under a quota used up for good (a 429 with a day-long Retry-After on
every request) each row waits out `rate_limit_budget_s` in pauses of `max_retry_after_s`
before it counts, and the breaker trips after hours. This watch counts time instead:
when no request has succeeded since `timeout_s` ago (the first request's start, at the
beginning), the next failure the run meets stops it.

What counts as going through: an answer that is not a transient failure (a 200, and a
refusal too: a 404 proves the API answers, and the refusal rule deals with those).
Time is the event loop's (`loop.time()`), so that tests fake it.
"""

from __future__ import annotations

__all__ = ["NoProgress"]


class NoProgress:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._since: float | None = None  # the last success, or the first request

    def started(self, now: float) -> None:
        """A request goes out: the first one starts the clock."""
        if self._since is None:
            self._since = now

    def went_through(self, now: float) -> None:
        self._since = now

    def stalled(self, now: float) -> bool:
        """Called on a transient failure: True when nothing went through for too long."""
        return self._since is not None and now - self._since >= self.timeout_s

    def explain(self, last_error: str, *, throttled: bool) -> str:
        why = ("the organization's quota stays used up: check what else uses the key's "
               "organization, or lower rate_per_minute" if throttled else
               "the API looks down")
        return (f"no request went through for {self.timeout_s:g} s (no_progress_timeout_s; "
                f"last: {last_error}); {why}")
