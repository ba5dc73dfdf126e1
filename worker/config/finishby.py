"""`--finish-by WHEN`: the end of a run's window, parsed in this one place.

Accepted forms (`FORMS`, which every error message quotes):
- `HH:MM` (or `HH:MM:SS`): the next such local time, today or, if it has passed, tomorrow
  (`--finish-by 03:00` at 02:30 is in 30 min; at 03:10, tomorrow at 03:00);
- an ISO 8601 date and time, with a zone (`2026-12-03T03:00+01:00`, `...Z`) or without
  (then local time);
- `+DURATION`: from now, in hours, minutes and seconds (`+45m`, `+10s`, `+1h30m`,
  `+2h`); a plain `+90` is seconds.

The result is an aware `datetime`; the run turns it into a deadline on its own clock. A
time that is not in the future is refused: a run that may start no request would only
write `skipped` rows.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from worker.core.errors import ConfigError

__all__ = ["FORMS", "parse_finish_by", "seconds_left", "shown"]

FORMS = ("HH:MM (the next such local time), an ISO 8601 time such as "
         "2026-12-03T03:00+01:00, or +DURATION such as +45m, +10s, +1h30m")

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DURATION = re.compile(r"\+(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?|\+(\d+)")


def parse_finish_by(text: str | datetime, *, now: datetime | None = None,
                    flag: str = "--finish-by") -> datetime:
    """WHEN (one of `FORMS`, or a `datetime`, naive meaning local) as an aware datetime.
    Raises `ConfigError` naming `flag` and the accepted forms."""
    now = (now or datetime.now()).astimezone()
    if isinstance(text, datetime):
        when: datetime | None = text.astimezone() if text.tzinfo is None else text
    else:
        when = _parse(text.strip(), now)
    if when is None:
        raise ConfigError(f"{flag} {text!r}: not a time; use {FORMS}")
    if when <= now:
        raise ConfigError(f"{flag} {text!r}: {when.isoformat(timespec='seconds')} has "
                          f"passed: give a time in the future ({FORMS})")
    return when


def seconds_left(when: datetime, *, now: datetime | None = None) -> float:
    """Seconds from now until `when` (negative once past)."""
    return (when - (now or datetime.now()).astimezone()).total_seconds()


def shown(when: datetime) -> str:
    """WHEN as messages show it: local time, to the second, with its offset."""
    return when.astimezone().isoformat(timespec="seconds")


def _parse(value: str, now: datetime) -> datetime | None:
    if value.startswith("+"):
        match = _DURATION.fullmatch(value)
        if match is None or not any(match.groups()):
            return None
        hours, minutes, seconds, plain = (int(g or 0) for g in match.groups())
        return now + timedelta(hours=hours, minutes=minutes, seconds=seconds + plain)
    match = _CLOCK.fullmatch(value)
    if match is not None:
        hour, minute, second = (int(g or 0) for g in match.groups())
        if hour > 23 or minute > 59 or second > 59:
            return None
        when = now.replace(hour=hour, minute=minute, second=second, microsecond=0)
        return when if when > now else _tomorrow(when)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if len(value) <= 10:  # a date alone (2026-12-03) is not a time of day to stop at
        return None
    return parsed.astimezone() if parsed.tzinfo is None else parsed


def _tomorrow(when: datetime) -> datetime:
    # The same wall-clock time on the next day, in the zone then (a DST change between).
    naive = when.replace(tzinfo=None) + timedelta(days=1)
    return naive.astimezone()
