"""Stop when the first rows sent are all refused the same way: the job is wrong, not its rows.

The circuit breaker (`worker.sending.breaker`) counts the server's faults only: a
refusal proves the API is up. But a base URL that misses `/v2` on a gateway answering
JSON gets a 404 for every conversation, and a key whose user lacks access a 403 for
every one; a run would fail each of its rows, and `report` would advise fixing them one
by one. Like S3 Batch Operations' failure threshold, but for refusals:

- the first `first_rows` rows (20 by default: `same_refusal_rows`) whose requests got
  Partoo's refusal (`Rejected`: a JSON 400/403/404/409/422) or success are all refused,
  with the same HTTP status and the same message once the values particular to a row
  are taken out (`worker.report.errorkind`, as `report` groups them): stop;
- one row that is ok, or refused another way, disarms the rule for the rest of the run,
  so a job with a few bad rows among good ones never trips it: only twenty bad rows in
  a row, all alike and before any good one, do. Rows that failed on the server's side
  (5xx, timeouts, answers that are not Partoo's) count neither way: the breaker's.
- 0 turns the rule off.
"""

from __future__ import annotations

from worker.core.errors import RequestError
from worker.core.outcomes import Fault
from worker.report.errorkind import error_kind

__all__ = ["SameRefusals"]

_HINTS = {
    404: "a 404 for every row usually means the base URL is wrong (Partoo's API lives "
         "under /v2: https://api.partoo.co/v2): check PARTOO_BASE_URL; or the ids are not "
         "conversations this key can see",
    403: "a 403 for every row means the key's user lacks access (to these businesses, or "
         "to conversations at all): check the user of PARTOO_API_KEY and its rights",
}
_OTHER = ("the job asks for something the API refuses for every conversation (a user id "
          "that cannot be assigned?): check the job's action and the error")


class SameRefusals:
    def __init__(self, first_rows: int) -> None:  # `same_refusal_rows`: the settings' default
        self._first_rows = first_rows
        self._armed = first_rows > 0
        self._count = 0
        self._kind: tuple[int | None, str] | None = None
        self._last = ""

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
