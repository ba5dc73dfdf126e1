"""`--finish-by WHEN`, parsed in one place: every form, and errors that name the flag and
the accepted forms."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from worker.config.finishby import FORMS, parse_finish_by
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
