"""A job's `expect_no_message_after` that Python cannot put in UTC: an invalid row that
says so, not a crash of `plan` (issue 31 item 14)."""

from __future__ import annotations

import pytest

from helpers import write_job
from worker.jobfile.plan import make_plan
from worker.jobfile.reader import open_job

HEADER = ("conversation_id", "status", "assigned_user_id", "expect_no_message_after")


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"])
def test_a_guard_time_outside_the_years_1_to_9999_in_utc_is_an_invalid_row(tmp_path, when):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "", when),
                                           ("2", "closed", "", "2026-12-02T02:00:00Z")],
                    header=HEADER)
    plan = make_plan(open_job(job))
    assert (plan.rows, plan.invalid, plan.guarded) == (2, 1, 1)
    (example,) = plan.invalid_examples
    assert example.row == 1
    assert example.message.startswith(f"expect_no_message_after '{when}' is not a time")
    assert "years 1 to 9999 in UTC" in example.message


def test_plan_says_so_and_exits_1_not_3(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "", "0001-01-01T00:00:00+01:00")],
                    header=HEADER)
    result = cli("plan", job, env={"PARTOO_API_KEY": "k"})
    assert result.code == 1 and "bug" not in result.err, result.err
    assert "row 1: expect_no_message_after '0001-01-01T00:00:00+01:00' is not a time" in \
        result.out
