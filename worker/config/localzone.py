"""The machine's time zone as rules (`zoneinfo`), for local times that must land right
across a daylight-saving change.

`datetime.now().astimezone()` carries only today's fixed offset: `03:00` tonight built on
it is an hour off when the clocks change in between. So the zone itself is found, where
the C library finds it:
- `TZ`, when set: a zone key (`Europe/Paris`, `:Europe/Paris`), a TZif file's absolute
  path (`:/usr/share/zoneinfo/Europe/Paris`), or empty (UTC, as for the C library);
- else `/etc/localtime`: the TZif file the C library reads (named by its link's target).

Anything else (a POSIX rule such as `CET-1CEST,M3.5.0,M10.5.0/3`, a key the zone
database does not have, no `/etc/localtime`, Windows without the `tzdata` package): the
C library's own local time, and `LocalZone.note` says so (to tell the operator, once).

A wall time the clocks skip (02:30 on the spring-forward night) or repeat (02:30 on the
fall-back night) is read at its earliest instant: a window never ends later than asked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["LocalZone", "local_zone"]

_LOCALTIME = Path("/etc/localtime")
_MARKER = "zoneinfo/"  # /usr/share/zoneinfo/Europe/Paris -> Europe/Paris


@dataclass(frozen=True, slots=True)
class LocalZone:
    """The local zone: `rules` (None: the C library's local time) and its `name`."""

    name: str
    rules: tzinfo | None
    note: str | None = None  # why the zone's rules are not used; None when they are

    def wall(self, moment: datetime) -> datetime:
        """An aware `moment` in local time (offset of that date, not today's)."""
        return moment.astimezone(self.rules) if self.rules else moment.astimezone()

    def at(self, naive: datetime) -> datetime:
        """A local wall time (naive) as an aware datetime at its earliest instant, with
        the offset of that instant (a fixed one, as `naive.astimezone()` gives)."""
        if self.rules is None:
            return naive.astimezone()
        readings = [naive.replace(tzinfo=self.rules, fold=fold) for fold in (0, 1)]
        # min by instant: aware datetimes sharing a tzinfo compare as wall times, fold
        # ignored, so the instant is what is compared.
        earliest = min(readings, key=lambda reading: reading.astimezone(UTC))
        # With that instant's own offset, fixed: a datetime whose offset depends on its
        # `fold` compares unequal to every other zone's (PEP 495), the same instant too.
        offset = earliest.utcoffset()
        assert offset is not None  # a ZoneInfo always has one
        return earliest.astimezone(timezone(offset))


def local_zone(environ: Mapping[str, str] = os.environ,
               localtime: Path = _LOCALTIME) -> LocalZone:
    """The local zone, as described in the module's docstring."""
    tz = environ.get("TZ")
    if tz is not None:
        return _from_tz(tz)
    try:
        with open(localtime, "rb") as f:
            rules = ZoneInfo.from_file(f, key=_key_of(localtime))
    except (OSError, ValueError) as exc:
        return _libc("TZ is not set and " + (
            f"{localtime} does not exist" if isinstance(exc, FileNotFoundError)
            else f"{localtime} cannot be read as a zone"))
    return LocalZone(str(rules), rules)


def _from_tz(tz: str) -> LocalZone:
    key = tz.removeprefix(":")
    if not key:
        return LocalZone("UTC", UTC)  # TZ set and empty: UTC, as for the C library
    try:
        if os.path.isabs(key):
            with open(key, "rb") as f:
                rules = ZoneInfo.from_file(f, key=_key_of(Path(key)))
        else:
            rules = ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return _libc(f"TZ={tz!r} is not a zone of the zone database (such as "
                     "Europe/Paris)")
    return LocalZone(str(rules), rules)


def _key_of(path: Path) -> str:
    """The zone's name from its file's path (a link's target), else the path itself."""
    target = str(path.resolve())
    return target.rpartition(_MARKER)[2] if _MARKER in target else str(path)


def _libc(why: str) -> LocalZone:
    return LocalZone("local time", None, note=(
        f"{why}: local times are read by the C library's rules, which may be off by an "
        "hour across a daylight-saving change; set TZ to a zone such as Europe/Paris"))
