"""The one owner of how times are written: the report's `finished_at`, the lock's and the
meta's timestamps, the JSON logs' `ts`. All UTC, ISO-8601, with an explicit offset, so a
report read in another zone (or across a DST change) means the same instant.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache

__all__ = ["iso_utc", "utc_now_ms", "utc_now_s"]


def utc_now_ms() -> str:
    """Now, to the millisecond: `datetime.now(UTC).isoformat(timespec="milliseconds")` at
    half its cost (the date and time of day are made once a second): one per report line."""
    now = time.time()
    second = int(now)
    return f"{_second_utc(second)}.{int((now - second) * 1000):03d}+00:00"


@lru_cache(maxsize=2)
def _second_utc(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def utc_now_s() -> str:
    """Now, to the second (a lock's or a run's start)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def iso_utc(timestamp: float, timespec: str = "milliseconds") -> str:
    """A POSIX timestamp (`time.time()`, a log record's `created`) as UTC ISO-8601."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec=timespec)
