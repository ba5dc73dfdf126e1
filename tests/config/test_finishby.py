"""`--finish-by WHEN`, parsed in one place: every form, and errors that name the flag and
the accepted forms."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from helpers import write_job
from worker.config.finishby import FORMS, parse_finish_by, seconds_left, shown
from worker.config.localzone import local_zone
from worker.core.errors import ConfigError

NOW = datetime(2026, 12, 2, 2, 30).astimezone()


@pytest.mark.parametrize(("text", "after"), [
    ("+45m", timedelta(minutes=45)), ("+10s", timedelta(seconds=10)),
    ("+1h30m", timedelta(hours=1, minutes=30)), ("+2h", timedelta(hours=2)),
    ("+90", timedelta(seconds=90)), ("03:00", timedelta(minutes=30)),
    ("02:29", timedelta(hours=23, minutes=59)),  # passed today: tomorrow
])
def test_when_is_a_duration_or_the_next_such_local_time(text, after):
    assert parse_finish_by(text, now=NOW) == NOW + after


def test_an_iso_time_keeps_its_zone_and_one_without_is_local():
    assert parse_finish_by("2026-12-03T03:00+01:00", now=NOW).utcoffset() == timedelta(hours=1)
    local = parse_finish_by("2026-12-03T03:00", now=NOW)
    assert local.utcoffset() == NOW.utcoffset() and local.hour == 3


@pytest.mark.parametrize("text", ["abc", "+", "+1h30", "25:00", "2026-12-03", "3pm",
                                  "2020-01-01T00:00Z", "+0s"])
def test_a_bad_or_past_when_names_the_flag_and_the_accepted_forms(text):
    with pytest.raises(ConfigError) as caught:
        parse_finish_by(text, now=NOW)
    assert str(caught.value).startswith(f"--finish-by {text!r}:") and FORMS in str(caught.value)


# --- local times by the zone's rules (issue 31 item 3) ------------------------------------
# Paris: 2027-03-28 02:00 CET -> 03:00 CEST (spring), 2027-10-31 03:00 CEST -> 02:00 CET.

def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def paris(monkeypatch):
    """The process in Europe/Paris (TZ, and the C library told), put back after."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


SPRING_NIGHT = _utc(2027, 3, 27, 23, 30)  # 00:30 CET, before the clocks go forward
AUTUMN_NIGHT = _utc(2027, 10, 30, 22, 30)  # 00:30 CEST, before the clocks go back


@pytest.mark.parametrize(("now", "text", "expected"), [
    (SPRING_NIGHT, "06:00", _utc(2027, 3, 28, 4)),  # 06:00 CEST, not 06:00+01:00
    (AUTUMN_NIGHT, "06:00", _utc(2027, 10, 31, 5)),  # 06:00 CET, not 06:00+02:00
    # Passed today: tomorrow, with tomorrow's offset.
    (_utc(2027, 3, 27, 22), "22:00:00", _utc(2027, 3, 28, 20)),
    # A time without a zone on the day of the change.
    (SPRING_NIGHT, "2027-03-28T06:00", _utc(2027, 3, 28, 4)),
    (AUTUMN_NIGHT, "2027-10-31 06:00", _utc(2027, 10, 31, 5)),
    # Skipped (spring) or repeated (autumn) wall times: the earliest instant, so that a
    # window never ends later than asked.
    (SPRING_NIGHT, "02:30", _utc(2027, 3, 28, 0, 30)),
    (AUTUMN_NIGHT, "02:30", _utc(2027, 10, 31, 0, 30)),
])
def test_a_local_time_takes_the_offset_of_its_own_date_across_a_dst_change(
        paris, now, text, expected):
    when = parse_finish_by(text, now=now)
    assert when == expected
    assert seconds_left(when, now=now) == (expected - now).total_seconds()


def test_a_naive_datetime_is_local_by_the_zones_rules(paris):
    when = parse_finish_by(datetime(2027, 3, 28, 6), now=SPRING_NIGHT)
    assert when == _utc(2027, 3, 28, 4)
    assert shown(when) == "2027-03-28T06:00:00+02:00"


def test_the_zone_given_wins_over_the_machines():
    zone = local_zone({"TZ": "Europe/Paris"})
    assert parse_finish_by("06:00", now=SPRING_NIGHT, zone=zone) == _utc(2027, 3, 28, 4)
    assert shown(_utc(2027, 3, 28, 4), zone) == "2027-03-28T06:00:00+02:00"


@pytest.mark.parametrize("tz", ["Europe/Paris", ":Europe/Paris",
                                ":/usr/share/zoneinfo/Europe/Paris"])
def test_the_zone_is_found_from_tz(tz):
    zone = local_zone({"TZ": tz})
    assert zone.name == "Europe/Paris" and zone.note is None
    assert zone.at(datetime(2027, 3, 28, 6)).utcoffset() == timedelta(hours=2)


def test_an_empty_tz_is_utc_as_for_the_c_library():
    zone = local_zone({"TZ": ""})
    assert zone.name == "UTC" and zone.note is None


def test_without_tz_the_zone_is_etc_localtimes(tmp_path):
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/Europe/Paris")
    zone = local_zone({}, localtime=link)
    assert zone.name == "Europe/Paris" and zone.note is None
    assert zone.at(datetime(2027, 10, 31, 6)).utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(("environ", "said"), [
    ({"TZ": "CET-1CEST,M3.5.0,M10.5.0/3"}, "TZ='CET-1CEST,M3.5.0,M10.5.0/3' is not a zone"),
    ({"TZ": "Mars/Olympus"}, "TZ='Mars/Olympus' is not a zone"),
    ({}, "does not exist"),
])
def test_a_zone_that_cannot_be_found_falls_back_to_the_c_library_and_says_so(
        tmp_path, caplog, environ, said):
    zone = local_zone(environ, localtime=tmp_path / "no-such-localtime")
    assert zone.rules is None and said in (zone.note or "") and "set TZ" in (zone.note or "")
    with caplog.at_level(logging.WARNING, logger="partoo_bulk"):
        parse_finish_by("03:00", now=NOW, zone=zone)
    assert [r.getMessage() for r in caplog.records if said in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="partoo_bulk"):
        parse_finish_by("+45m", now=NOW, zone=zone)  # no local time: nothing to say
    assert not caplog.records


# --- what is refused, as a user's mistake (issue 31 items 14 and 16) ----------------------

@pytest.mark.parametrize("text", ["０３:００", "0３:00", "03:0０", "+１h", "+９０", "+1h３0m",
                                  "+4５s"])
def test_digits_are_ascii_only(text):
    with pytest.raises(ConfigError) as caught:
        parse_finish_by(text, now=NOW)
    assert "not a time" in str(caught.value) and FORMS in str(caught.value)


@pytest.mark.parametrize("text", ["+999999999999h", "+99999999h", "+" + "9" * 40 + "s",
                                  "9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59"])
def test_a_time_past_the_year_9999_is_refused_not_a_crash(text):
    with pytest.raises(ConfigError) as caught:
        parse_finish_by(text, now=NOW, zone=local_zone({"TZ": "America/Los_Angeles"}))
    assert str(caught.value).startswith(f"--finish-by {text!r}: too far in the future")


def test_a_time_whose_local_time_is_past_the_year_9999_is_refused_not_a_crash():
    with pytest.raises(ConfigError, match="too far in the future"):
        parse_finish_by("9999-12-31T20:00:00Z", now=NOW,
                        zone=local_zone({"TZ": "Pacific/Kiritimati"}))  # UTC+14


def test_a_datetime_past_the_year_9999_is_refused_not_a_crash():
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-12)))
    with pytest.raises(ConfigError, match=r"^finish_by .*: too far in the future"):
        parse_finish_by(late, now=NOW, flag="finish_by")


@pytest.mark.parametrize("text", ["+999999999999h", "9999-12-31T23:59:59-12:00"])
def test_the_command_says_so_and_exits_2(tmp_path, cli, text):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("plan", job, "--finish-by", text)
    assert result.code == 2, result.err
    assert "too far in the future" in result.err and "bug" not in result.err
