"""A refusal's error quotes the reason the server gave, whole, in every shape it comes in."""

from __future__ import annotations

import json

import pytest

from helpers import read_report, sim_env, write_job
from worker.core.errors import Rejected
from worker.partoo.answers import parse_json, raise_for_status
from worker.simulator import Faults

LONG_TYPE = "https://gateway.example.com/problems/" + "request-validation-failed/" * 6


def refusal(status: int, payload: object) -> str:
    body = json.dumps(payload).encode()
    with pytest.raises(Rejected) as err:
        raise_for_status(status, "", {}, body, parse_json(body))
    return err.value.message


def test_a_problem_json_reason_comes_whole_after_a_long_type():
    message = refusal(422, {
        "type": LONG_TYPE, "title": "Invalid request", "status": 422,
        "detail": "Your request parameters did not validate.",
        "validation": [{"in": "body", "path": "/status", "message": "must be open or closed"},
                       {"path": "/assigned_user_id", "message": "must be a user id"}]})
    assert message == ("422 Invalid request: Your request parameters did not validate. "
                       "/status: must be open or closed; /assigned_user_id: must be a user id")
    assert LONG_TYPE not in message


def test_a_problem_with_errors_items_names_each_one():
    message = refusal(400, {"title": "Bad Request", "status": 400,
                            "errors": [{"detail": "is not a number", "pointer": "#/id"},
                                       "status is missing"]})
    assert message == "400 Bad Request: #/id: is not a number; status is missing"


def test_partoos_own_refusals_read_as_before():
    assert refusal(400, {"error": {"json": {"assigned_user_id": ["User is not active."]}}}) \
        == "400 assigned_user_id: User is not active."
    assert refusal(403, {"errors": {"authorization": "Operation not allowed"}}) \
        == "403 authorization: Operation not allowed"
    assert refusal(404, {"message": "Conversation 12 not found"}) == \
        "404 Conversation 12 not found"


def test_a_long_reason_is_cut_after_it_is_said_not_before():
    detail = "the reason " + "and more of it " * 30 + "END-OF-REASON"
    padding = {"trace": "x" * 5000}
    message = refusal(409, {"type": LONG_TYPE, **padding, "title": "Conflict",
                            "detail": detail})
    assert "END-OF-REASON" in message and "x" * 100 not in message


def test_a_problem_json_refusal_reaches_the_report_and_report_whole(tmp_path, make_sim, cli):
    sim = make_sim(faults=Faults(force_status=422, problem_json=True))
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    result = cli("run", job, "--yes", "-v", env=sim_env(sim))
    assert result.code == 1
    errors = [r["error"] for r in read_report(tmp_path / "job.report.csv")]
    reason = "/status: must be one of: open, closed (injected refusal)"
    assert all(reason in e and "did not validate" in e for e in errors), errors
    assert reason in result.err  # -v logs it too
    assert reason in cli("report", tmp_path / "job.report.csv").out
