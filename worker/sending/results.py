"""Building a row's `Result` from what its requests did, and logging each request.

Kept apart from `rowwork` so that it reads as the order of a row's requests only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from functools import lru_cache

from worker.core.errors import RateLimited, RequestError, TransientError
from worker.core.operations import Operation
from worker.core.outcomes import Fault, Outcome, Result
from worker.core.words import counted
from worker.logs import REQUEST_LOG
from worker.sending.retrypolicy import RetryPolicy
from worker.sending.tally import Tally

__all__ = ["done", "failure_text", "log_request", "skipped"]


def done(op: Operation, tally: Tally, outcome: Outcome, http_status: int | None,
         error: str, fault: Fault | None = None) -> Result:
    # From the first request out to the final answer: the row's own time, not the time
    # it queued for a permit.
    now = asyncio.get_running_loop().time()
    elapsed = now - (tally.first_sent_at if tally.first_sent_at is not None else now)
    return Result(row=op.row, conversation_id=str(op.conversation_id),
                  action=op.action.value, value=op.value, outcome=outcome,
                  http_status=http_status, attempts=tally.requests, error=error,
                  fault=fault, duration_ms=round(elapsed * 1000), finished_at=utc_now_ms(),
                  cells=op.cells, throttled=tally.throttled, reads=tally.reads)


def utc_now_ms() -> str:
    """Now, UTC, ISO-8601 to the millisecond: `datetime.now(UTC).isoformat(timespec=
    "milliseconds")` at half its cost (the date and time of day are made once a second)."""
    now = time.time()
    second = int(now)
    return f"{_second_utc(second)}.{int((now - second) * 1000):03d}+00:00"


@lru_cache(maxsize=2)
def _second_utc(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def skipped(op: Operation, tally: Tally, reason: str, *, in_flight: bool = False,
            cause: BaseException | None = None) -> Result:
    """A row the run stopped before finishing: `--resume` sends it again."""
    if tally.requests == 0:
        text = f"not attempted: {reason}"
    elif in_flight:
        text = (f"interrupted with a request in flight ({reason}); it may have reached "
                "the server: --resume sends it again")
    else:
        said = str(cause) if cause is not None else tally.last_error
        # A stop for this row's own answer (a 401) names it already: say it once.
        last = f" (last: {said})" if said and said not in reason else ""
        maybe = ("; it may have been applied" if tally.maybe_applied
                 and "may have been applied" not in said else "")
        tries = counted(tally.requests, "attempt")
        text = f"not finished after {tries}{last}{maybe}: {reason}; --resume sends it again"
    return Result(row=op.row, conversation_id=str(op.conversation_id),
                  action=op.action.value, value=op.value, outcome=Outcome.SKIPPED,
                  http_status=tally.last_status, attempts=tally.requests, error=text,
                  cells=op.cells, throttled=tally.throttled, reads=tally.reads)


def failure_text(exc: RequestError, tally: Tally, policy: RetryPolicy, *,
                 settled: str | None = None) -> str:
    """What went wrong, for the report. `settled`: what reading the conversation back
    showed, when it was read (see `worker.sending.readback`)."""
    if isinstance(exc, RateLimited):
        text = (f"429 rate limited {tally.throttled} times, {tally.throttled_wait_s:.0f} s "
                f"waited in all: gave up (rate_limit_budget_s={policy.rate_limit_budget_s:g})")
        if tally.asked_wait_s > policy.max_retry_after_s:
            text += (f"; the server asked to wait {tally.asked_wait_s:.0f} s, capped at "
                     f"max_retry_after_s={policy.max_retry_after_s:g}")
        return text
    if isinstance(exc, TransientError):
        # A 5xx or a lost connection does not say whether the change was applied first.
        tries = f"gave up after {tally.failures} attempts; " if tally.failures > 1 else ""
        return f"{exc.message} ({tries}{settled or 'it may or may not have been applied'})"
    return f"{exc.message} ({settled})" if settled else exc.message


def log_request(method: str, op: Operation, tally: Tally, status: int | None,
                elapsed_s: float, error: str) -> None:
    if not REQUEST_LOG.isEnabledFor(logging.INFO):
        return
    path = f"/conversations/{op.conversation_id}"
    REQUEST_LOG.log(
        _level(status), "%s %s row=%s attempt=%s -> %s %.0f ms%s", method, path, op.row,
        tally.requests, status or "no answer", elapsed_s * 1000, f" ({error})" if error else "",
        extra={"method": method, "path": path, "conversation_id": op.conversation_id,
               "http_status": status, "attempt": tally.requests, "row": op.row,
               "duration_ms": round(elapsed_s * 1000), "error": error or None})


def _level(status: int | None) -> int:
    """info when it went through; a warning for what did not (5xx, 429, no answer, a
    refusal): the run goes on. A 401 is an error: it stops the run."""
    if status is not None and 200 <= status < 300:
        return logging.INFO
    return logging.ERROR if status == 401 else logging.WARNING
