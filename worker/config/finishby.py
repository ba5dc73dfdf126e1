"""`--finish-by WHEN`: the end of a run's window, parsed in this one place.

Accepted forms (`FORMS`, which every error message quotes):
- `HH:MM` (or `HH:MM:SS`): the next such local time, today or, if it has passed, tomorrow
  (`--finish-by 03:00` at 02:30 is in 30 min; at 03:10, tomorrow at 03:00);
- an ISO 8601 date and time, with a zone (`2026-12-03T03:00+01:00`, `...Z`) or without
  (then local time);
- `+DURATION`: from now, in hours, minutes and seconds (`+45m`, `+10s`, `+1h30m`,
  `+2h`); a plain `+90` is seconds.

Local times follow the zone's rules (`worker.config.localzone`), so `03:00` tonight has
tonight's offset even when the clocks change in between. Digits are ASCII only. A time
past the year 9999 is refused as one (not a crash).

The result is an aware `datetime`; the run turns it into a deadline on its own clock. A
time that is not in the future is refused: a run that may start no request would only
write `skipped` rows.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from worker.config.localzone import LocalZone, local_zone
from worker.core.errors import ConfigError

__all__ = ["FORMS", "parse_finish_by", "seconds_left", "shown"]

FORMS = ("HH:MM (the next such local time), an ISO 8601 time such as "
         "2026-12-03T03:00+01:00, or +DURATION such as +45m, +10s, +1h30m")

_LOG = logging.getLogger("partoo_bulk.config")
# ASCII digits only ([0-9], not \d): `\d` and int() also take full-width and other
# scripts' digits ("０３:００"), which no one types on purpose.
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_DURATION = re.compile(r"\+(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?|\+([0-9]+)")


def parse_finish_by(text: str | datetime, *, now: datetime | None = None,
                    flag: str = "--finish-by", zone: LocalZone | None = None) -> datetime:
    """WHEN (one of `FORMS`, or a `datetime`, naive meaning local) as an aware datetime.
    Local times follow `zone`'s rules (default: `local_zone()`). Raises `ConfigError`
    naming `flag` and the accepted forms."""
    now = now.astimezone(UTC) if now is not None else datetime.now(UTC)
    zone = zone or local_zone()
    given = text.isoformat() if isinstance(text, datetime) else text  # as messages quote it
    try:
        if isinstance(text, datetime):
            local = text.tzinfo is None
            when: datetime | None = zone.at(text) if local else text
        else:
            when, local = _parse(text.strip(), now, zone)
        if when is not None:
            # Past the year 9999 in UTC or in local time, a datetime cannot be made:
            # find it here, as a user's mistake, not later as a crash.
            when.astimezone(UTC)
            zone.wall(when)
    except OverflowError:
        raise ConfigError(f"{flag} {given!r}: too far in the future (past the year 9999): "
                          f"give a time within the next years ({FORMS})") from None
    if when is None:
        raise ConfigError(f"{flag} {given!r}: not a time; use {FORMS}")
    if when <= now:
        raise ConfigError(f"{flag} {given!r}: {shown(when, zone)} has "
                          f"passed: give a time in the future ({FORMS})")
    if local and zone.note:
        _LOG.warning("partoo-bulk: warning: %s %s: %s", flag, shown(when, zone), zone.note)
    return when


def seconds_left(when: datetime, *, now: datetime | None = None) -> float:
    """Seconds from now until `when` (negative once past)."""
    return (when - (now or datetime.now(UTC))).total_seconds()


def shown(when: datetime, zone: LocalZone | None = None) -> str:
    """WHEN as messages show it: local time (`zone`, default the machine's), to the
    second, with its offset."""
    return (zone or local_zone()).wall(when).isoformat(timespec="seconds")


def _parse(value: str, now: datetime, zone: LocalZone) -> tuple[datetime | None, bool]:
    """(WHEN or None when it is not one of `FORMS`, whether it was a local time)."""
    if value.startswith("+"):
        match = _DURATION.fullmatch(value)
        if match is None or not any(match.groups()):
            return None, False
        hours, minutes, seconds, plain = (int(g or 0) for g in match.groups())
        return now + timedelta(hours=hours, minutes=minutes, seconds=seconds + plain), False
    match = _CLOCK.fullmatch(value)
    if match is not None:
        hour, minute, second = (int(g or 0) for g in match.groups())
        if hour > 23 or minute > 59 or second > 59:
            return None, True
        # Today's date where we are, then the zone's offset on that date and time (not
        # now's: a daylight-saving change may fall in between); tomorrow's if passed.
        today = zone.wall(now).replace(tzinfo=None, hour=hour, minute=minute,
                                       second=second, microsecond=0)
        when = zone.at(today)
        return (when if when > now else zone.at(today + timedelta(days=1))), True
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None, False
    if len(value) <= 10:  # a date alone (2026-12-03) is not a time of day to stop at
        return None, False
    if parsed.tzinfo is None:
        return zone.at(parsed), True
    return parsed, False
