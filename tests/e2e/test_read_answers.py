"""What a GET of one conversation answers is that conversation's state, or a failed read
(issue 31 items 4 and 14): the real CLI against the simulator, which can answer another
conversation's state (`Faults.get_answers_id`, a cache keyed on the wrong thing) and hold
a date Python cannot put in UTC."""

from __future__ import annotations

from helpers import change_by_hand as change
from helpers import read_report, sim_env, write_job
from worker.simulator import ALICE, BOB
from worker.simulator.faults import Faults

GUARDED = ("conversation_id", "status", "assigned_user_id", "expect_status",
           "expect_assignee", "expect_no_message_after")


def requests_of(sim, method: str) -> list[int]:
    return [r.conversation_id for r in sim.state.log.records
            if r.method == method and r.conversation_id is not None]


def test_a_guard_answered_with_another_conversation_decides_nothing(tmp_path, make_sim,
                                                                     cli):
    sim = make_sim(n_conversations=20, faults=Faults(get_answers_id=1))
    change(sim, 1, is_solved=True, assigned_user_id=BOB)  # what every GET now shows
    for cid in (2, 3):
        change(sim, cid, is_solved=False, assigned_user_id=ALICE)
    # Read as conversation 1, both rows would be `ok` with nothing sent ("already closed",
    # "already assigned to BOB"): verdicts on another conversation's state.
    job = write_job(tmp_path / "job.csv", [("2", "closed", "", "open", "", ""),
                                           ("3", "", BOB, "", ALICE, "")], header=GUARDED)

    result = cli("run", job, "--yes", env=sim_env(sim))

    rows = read_report(tmp_path / "job.report.csv")
    assert [r["outcome"] for r in rows] == ["failed", "failed"], result.err
    for row in rows:
        assert (f"GET /conversations/{row['conversation_id']} answered conversation 1 "
                "instead") in row["error"]
        assert "PARTOO_BASE_URL and the proxy" in row["error"]
    assert requests_of(sim, "PATCH") == []  # nothing sent on a wrong answer
    assert not sim.state.conversations[2].is_solved
    assert sim.state.conversations[3].assigned_user_id == ALICE
    assert result.code == 1 and "bug" not in result.err


def test_undo_capture_and_verify_refuse_another_conversations_answer(tmp_path, make_sim,
                                                                     cli):
    sim = make_sim(n_conversations=20)
    for cid in (1, 2):
        change(sim, cid, is_solved=False, assigned_user_id=None)
    change(sim, 3, is_solved=True, assigned_user_id=BOB)
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    env = sim_env(sim)
    assert cli("run", job, "--yes", env=env).code == 0
    report = tmp_path / "job.report.csv"

    # Every GET now answers conversation 3, closed like the run left 1 and 2: a verify
    # that trusted it would say "as expected" without having read either.
    sim.simulator.faults = Faults(get_answers_id=3)
    checked = cli("verify", report, env=env)
    assert checked.code == 1, checked.err
    assert "0 as expected, 0 differ, 2 could not be read" in checked.err
    assert "answered conversation 3 instead" in checked.out + checked.err

    # An undo capture read from conversation 3 would restore 1 and 2 to BOB's closed
    # state: the rows fail instead, and nothing is sent.
    undo_job = write_job(tmp_path / "again.csv", [("1", "open", ""), ("2", "open", "")])
    patches = len(requests_of(sim, "PATCH"))
    again = cli("run", undo_job, "--yes", "--undo-out", tmp_path / "undo.csv", env=env)
    rows = read_report(tmp_path / "again.report.csv")
    assert [r["outcome"] for r in rows] == ["failed", "failed"], again.err
    assert all("answered conversation 3 instead" in r["error"] for r in rows)
    assert len(requests_of(sim, "PATCH")) == patches
    assert again.code == 1 and "bug" not in again.err


def test_a_server_date_past_the_year_9999_in_utc_makes_the_row_changed(tmp_path, make_sim,
                                                                       cli):
    sim = make_sim(n_conversations=20)
    for cid in (1, 2, 3):
        change(sim, cid, is_solved=False, last_message_date="2023-01-01T00:00:00+00:00")
    # 10000-01-01T04:59:59Z: readable as text, not as a Python datetime in UTC.
    change(sim, 2, last_message_date="9999-12-31T23:59:59-05:00")
    job = write_job(tmp_path / "job.csv", [
        (str(cid), "closed", "", "", "", "2023-06-01T00:00:00Z") for cid in (1, 2, 3)],
        header=GUARDED)

    result = cli("run", job, "--yes", env=sim_env(sim))

    assert result.code == 0, result.err  # a row rightly not sent is no failure
    rows = {r["conversation_id"]: r for r in read_report(tmp_path / "job.report.csv")}
    assert rows["2"]["outcome"] == "changed"
    assert "its last message's date cannot be read" in rows["2"]["error"]
    assert rows["1"]["outcome"] == rows["3"]["outcome"] == "ok"
    assert sorted(requests_of(sim, "PATCH")) == [1, 3]


def test_a_canary_read_back_answered_with_another_conversation_does_not_hold(
        tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=20, faults=Faults(get_answers_id=10))
    for cid in range(1, 7):
        change(sim, cid, is_solved=False)
    change(sim, 10, is_solved=True)  # what every read-back now shows: "closed, holds"
    sim.simulator.script(1, ["lose"])  # 200 success, but conversation 1 stays open
    job = write_job(tmp_path / "job.csv", [(str(cid), "closed", "") for cid in range(1, 7)])

    result = cli("run", job, "--yes", "--canary", "2", env=sim_env(sim))

    assert result.code == 1, result.err
    assert "read back: 0 hold, 2 do not" in result.err
    assert sorted(requests_of(sim, "PATCH")) == [1, 2]  # the rest held back
    rows = read_report(tmp_path / "job.report.csv")
    assert [r["outcome"] for r in rows[2:]] == ["skipped"] * 4
