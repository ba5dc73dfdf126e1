"""The rules that stop a run which should not go on, each a `Watcher` of the request
path (`worker.sending.requester`): it hears of requests and of finished items, and says
when the run must stop (a `Stop`); the requester halts the run with it.

- `Breaker` (rows): the API is down. Like S3 Batch Operations' failure threshold, but
  over a sliding window, so that a job that was fine for an hour still stops minutes
  after the API breaks. A row counts as bad when the server, not the row, is at fault
  (`Fault.OUTAGE`: a transient failure that outlived its retries, an answer that is not
  Partoo's). Rows the API refused (400, 404, ...) count as good: they prove it is up.
- `NoProgress` (requests): no request went through for `timeout_s`. The breaker counts
  rows, and a row ends only once its retries are spent: under a quota used up for good
  (a 429 with a day-long Retry-After on every request) each row waits out
  `rate_limit_budget_s` before it counts, and the breaker would trip after hours. An
  answer that is not a transient failure counts as going through (a 404 proves the API
  answers; the refusal rule deals with those).
- `SameRefusals` (rows): the first rows sent are all refused the same way, so the job is
  wrong, not its rows (a base URL without `/v2` on a gateway answering JSON 404s, a key
  whose user lacks access). The first `first_rows` rows (`same_refusal_rows`) whose
  requests got a refusal (`Fault.REFUSED`) or went through are all refused with the same
  status and the same message once the values particular to a row are taken out
  (`worker.report.stats.error_kind`, as `report` groups them): stop. One row that is ok,
  or refused another way, disarms it for the rest of the run; rows failed on the
  server's side count neither way (the breaker's). 0 turns it off.

The adaptive rate (`worker.sending.aimd.Aimd`) is a watcher too; it never stops a run.
Time is the event loop's (`loop.time()`), so that tests fake it.
"""

from __future__ import annotations

from collections import deque

from worker.core.errors import RateLimited, RequestError, TransientError
from worker.core.outcomes import Fault
from worker.core.stops import Stop, StopReason
from worker.report.stats import error_kind
from worker.sending.requester import Watcher

__all__ = ["Breaker", "NoProgress", "SameRefusals"]

_QUOTA = ("the organization's quota stays used up: check what else uses the key's "
          "organization, or lower rate_per_minute")
_DOWN = "the API looks down"


class Breaker(Watcher):
    def __init__(self, window: int, threshold: float) -> None:
        # No defaults of its own: `failure_window` / `failure_threshold` are the settings'.
        self._recent: deque[bool] = deque(maxlen=window)
        self._bad = 0
        # Trip as soon as this many bad rows sit in the window, even before it is full.
        self._trip_at = max(1, round(window * threshold))

    def record(self, *, bad: bool) -> bool:
        """Count one finished row; True when the breaker trips."""
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._bad -= 1
        self._recent.append(bad)
        self._bad += bad
        return self._bad >= self._trip_at

    def finished(self, failure: RequestError | None) -> Stop | None:
        # Whose fault it is was decided once, by the error's class (`Fault`).
        if not self.record(bad=failure is not None and failure.fault is Fault.OUTAGE):
            return None
        assert failure is not None  # only a bad row trips it
        return Stop(StopReason.BREAKER, self.explain(
            failure.message, throttled=isinstance(failure, RateLimited)))

    def explain(self, last_error: str, *, throttled: bool = False) -> str:
        """Why the run stops. `throttled`: the last bad row gave up on 429s, so the quota,
        not the API, is what failed (used up by other integrations, or set lower)."""
        return (f"circuit breaker: {self._bad} of the last {len(self._recent)} rows sent failed "
                f"on the server's side (last: {last_error}); {_QUOTA if throttled else _DOWN}")


class NoProgress(Watcher):
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._since: float | None = None  # the last success, or the first request

    def sent(self, now: float) -> None:
        if self._since is None:  # the first request starts the clock
            self._since = now

    def answered(self, failure: RequestError | None, now: float) -> Stop | None:
        if failure is None or not isinstance(failure, TransientError):
            self._since = now  # the API answers
            return None
        if self._since is None or now - self._since < self.timeout_s:
            return None
        return Stop(StopReason.NO_PROGRESS, self.explain(
            failure.message, throttled=isinstance(failure, RateLimited)))

    def explain(self, last_error: str, *, throttled: bool) -> str:
        return (f"no request went through for {self.timeout_s:g} s (no_progress_timeout_s; "
                f"last: {last_error}); {_QUOTA if throttled else _DOWN}")


_HINTS = {
    404: "a 404 for every row usually means the base URL is wrong (Partoo's API lives "
         "under /v2: https://api.partoo.co/v2): check PARTOO_BASE_URL; or the ids are not "
         "conversations this key can see",
    403: "a 403 for every row means the key's user lacks access (to these businesses, or "
         "to conversations at all): check the user of PARTOO_API_KEY and its rights",
}
_OTHER = ("the job asks for something the API refuses for every conversation (a user id "
          "that cannot be assigned?): check the job's action and the error")


class SameRefusals(Watcher):
    def __init__(self, first_rows: int) -> None:  # `same_refusal_rows`: the settings' default
        self._first_rows = first_rows
        self._armed = first_rows > 0
        self._count = 0
        self._kind: tuple[int | None, str] | None = None
        self._last = ""

    def finished(self, failure: RequestError | None) -> Stop | None:
        return Stop(StopReason.REFUSED, self.explain()) if self.record(failure) else None

    def record(self, failure: RequestError | None) -> bool:
        """Count one finished row (`None`: it went through); True when the run must stop."""
        if not self._armed:
            return False
        if failure is None:
            self._armed = False
            return False
        if failure.fault is not Fault.REFUSED:
            return False  # the server's fault: the breaker's to count
        kind = (failure.http_status, error_kind(failure.message))
        if self._kind is not None and kind != self._kind:
            self._armed = False
            return False
        self._kind, self._last = kind, failure.message
        self._count += 1
        if self._count < self._first_rows:
            return False
        self._armed = False  # trips once
        return True

    def explain(self) -> str:
        """Why the run stops: what was seen, what to check, how to go on."""
        status = self._kind[0] if self._kind else None
        hint = _HINTS.get(status or 0, _OTHER)
        return (f"the first {self._count} rows sent were all refused the same way "
                f"({self._last}); {hint}. Nothing else was sent. Once fixed, the resume "
                "command below sends them again; if only these rows are wrong, resume "
                "without --retry-failed")
