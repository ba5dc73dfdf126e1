"""Dates a conversation (or a job's guard) gives that Python cannot put in UTC: unreadable
like any other bad date, never a crash (issue 31 item 14)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.core.conversation import parse_date, read_state
from worker.core.guards import Guard

OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00",
                "9999-12-31 23:59:59.999999-00:01"]


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_a_date_outside_the_years_1_to_9999_in_utc_is_unreadable(text):
    assert parse_date(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("0001-01-01T00:00:00-01:00", datetime(1, 1, 1, 1, tzinfo=UTC)),
    ("9999-12-31T23:59:59+05:00", datetime(9999, 12, 31, 18, 59, 59, tzinfo=UTC)),
    ("2023-01-31 16:22:17.327878+00:00", datetime(2023, 1, 31, 16, 22, 17, 327878, tzinfo=UTC)),
])
def test_the_edges_that_fit_are_read(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_a_servers_such_date_makes_a_message_guard_hold_the_row_back(text):
    state = read_state({"id": 5, "is_solved": False, "last_message": {"date": text}},
                       conversation_id=5)
    assert state.last_message_at is None and not state.last_message_known
    broken = Guard(no_message_after=datetime(2026, 12, 2, tzinfo=UTC)).broken(state)
    assert broken is not None and "cannot be read" in broken
