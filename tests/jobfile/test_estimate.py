"""The estimate: the rows and requests left to send, and how many rows a window reaches."""

from __future__ import annotations

import pytest

from worker.jobfile.plan import Plan


def test_the_estimate_says_how_many_rows_a_short_window_reaches():
    plan = Plan(rows=1000, invalid=0, conversations=1000)
    est = plan.estimate(300, window_s=60)
    assert not est.fits and est.rows == 1000 and est.rows_reached == 300
    assert plan.estimate(300, window_s=3600).fits
    # --undo-out doubles the requests: half the rows.
    assert plan.estimate(300, undo=True, window_s=60).rows_reached == 150
    text = plan.describe(300, window=("03:00", 60))
    assert "does NOT fit" in text and "about 300 of the 1000 rows" in text


def test_a_resume_is_estimated_for_the_rows_left_not_the_whole_job():
    plan = Plan(rows=1000, invalid=0, conversations=1000)
    est = plan.estimate(300, kept_sent=900)
    assert est.rows == 100 and est.requests == 100 and est.duration_s == pytest.approx(20)
    assert plan.total_requests(undo=True, kept_sent=900) == 200
    text = plan.describe(300, kept_sent=900)
    assert "for the 100 rows left" in text and "100 requests" in text
