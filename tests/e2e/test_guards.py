"""Guarded rows end to end: a job applies only where the conversation is still what the job
was built on. The real CLI (and a real process for kill -9) against the simulator, whose
conversations are changed behind the tool's back through its admin endpoint, as an agent
or a customer would."""

from __future__ import annotations

import csv
import json
import signal
import urllib.error
from datetime import UTC, datetime, timedelta

import pytest

from helpers import change_by_hand as change
from helpers import read_csv as read_job
from helpers import read_report, sim_env, start_worker, wait_for_lines, write_job
from worker.simulator import ALICE, BOB, CAROL, LONG_ID_USER

AS_OF = datetime(2023, 2, 15, tzinfo=UTC)
CUTOFF = AS_OF - timedelta(days=20)
GUARDED = ("conversation_id", "status", "assigned_user_id", "expect_status",
           "expect_assignee", "expect_no_message_after")


def requests_of(sim, method: str) -> list[int]:
    """The conversations of each `method` request (a listing's pages left out)."""
    return [r.conversation_id for r in sim.state.log.records
            if r.method == method and r.conversation_id is not None]


def whole_lines(report) -> list[dict[str, str]]:
    """The report's rows a reader can trust right after a kill (a torn last line left out)."""
    text = report.read_text(encoding="utf-8")
    return list(csv.DictReader(text[: text.rfind("\n") + 1].splitlines()))


def test_a_stale_job_from_select_sends_only_what_is_still_stale(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=300)
    env = sim_env(sim)
    job = tmp_path / "stale.csv"
    selected = cli("select", "--stale-days", "20", "--as-of", AS_OF.date().isoformat(),
                   "--unsolved", "--action", "close", "--out", job, env=env)
    assert selected.code == 0, selected.err
    assert ("guarded: expect_status=open, expect_no_message_after=2023-01-26T00:00:00Z"
            in selected.err)
    rows = read_job(job)
    # Guarded by what select filtered on, with no extra flag.
    assert {(r["expect_status"], r["expect_no_message_after"]) for r in rows} == {
        ("open", "2023-01-26T00:00:00Z")}
    ids = [int(r["conversation_id"]) for r in rows]
    assert len(ids) > 20
    wrote_in = ids[:3]  # a customer wrote after the job was made
    closed_by_hand = ids[3:6]
    wrote_long_ago = ids[6]  # a message still older than the cut-off: still stale
    for cid in wrote_in:
        change(sim, cid, last_message_date=(AS_OF - timedelta(days=2)).isoformat())
    for cid in closed_by_hand:
        change(sim, cid, is_solved=True)
    change(sim, wrote_long_ago, last_message_date=(CUTOFF - timedelta(days=1)).isoformat())
    change(sim, ids[7], assigned_user_id=CAROL)  # not what the job filtered on: still sent

    summary, metrics = tmp_path / "summary.json", tmp_path / "stale.prom"
    result = cli("run", job, "--yes", "--summary-json", summary, "--metrics-out", metrics,
                 env=env)

    assert result.code == 0, result.err  # a row rightly not sent is not a failure
    report = {int(r["conversation_id"]): r for r in read_report(tmp_path / "stale.report.csv")}
    for cid in wrote_in:
        assert report[cid]["outcome"] == "changed"
        assert "a message at 2023-02-13T00:00:00Z after the job's 2023-01-26T00:00:00Z" in \
            report[cid]["error"]
    for cid in closed_by_hand:
        assert report[cid]["outcome"] == "ok"
        assert report[cid]["error"].startswith("nothing sent: already closed")
    others = [cid for cid in ids if cid not in wrote_in + closed_by_hand]
    assert all(report[cid]["outcome"] == "ok" and not report[cid]["error"] for cid in others)
    # Exactly the others were sent; every row was read once, just before its change.
    assert sorted(requests_of(sim, "PATCH")) == sorted(others)
    assert sorted(requests_of(sim, "GET")) == sorted(ids)
    assert all(sim.state.conversations[cid].is_solved for cid in others + closed_by_hand)
    assert not any(sim.state.conversations[cid].is_solved for cid in wrote_in)
    assert "3 changed" in result.out

    data = json.loads(summary.read_text())
    assert data["exit_code"] == 0
    assert data["outcomes"]["changed"] == 3 and data["outcomes"]["ok"] == len(ids) - 3
    assert 'partoo_bulk_rows{bulk_job="stale",outcome="changed"} 3.0' in metrics.read_text()

    shown = cli("report", tmp_path / "stale.report.csv", "--json", env=env)
    doc = json.loads(shown.out)
    assert doc["outcomes"]["changed"] == 3 and doc["already_ok"] == 3
    assert [s["kind"] for s in doc["next_steps"]] == ["review_changed"]
    assert "a message at" in shown.out
    # Nothing to retry: the job is out of date for those rows.
    retry = tmp_path / "retry.csv"
    assert cli("report", tmp_path / "stale.report.csv", "--failed", retry, env=env).code == 0
    assert read_job(retry) == []


def test_a_leaver_job_keeps_the_hand_made_assignee(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=200)
    env = sim_env(sim)
    job = tmp_path / "leaver.csv"
    assert cli("select", "--assigned-to", BOB, "--assign-round-robin", f"{ALICE},{CAROL}",
               "--out", job, env=env).code == 0
    rows = read_job(job)
    assert {r["expect_assignee"] for r in rows} == {BOB}
    ids = [int(r["conversation_id"]) for r in rows]
    taken = ids[:4]  # a colleague took these by hand after the review
    for cid in taken:
        change(sim, cid, assigned_user_id=LONG_ID_USER)

    result = cli("run", job, "--yes", env=env)

    assert result.code == 0, result.err
    report = {int(r["conversation_id"]): r for r in read_report(tmp_path / "leaver.report.csv")}
    for cid in taken:
        assert sim.state.conversations[cid].assigned_user_id == LONG_ID_USER
        assert report[cid]["outcome"] == "changed"
        assert (f"now assigned to {LONG_ID_USER} (the job expected assigned to {BOB})"
                in report[cid]["error"])
    for row in rows:
        cid = int(row["conversation_id"])
        if cid not in taken:
            assert sim.state.conversations[cid].assigned_user_id == row["assigned_user_id"]
    assert sorted(requests_of(sim, "PATCH")) == sorted(set(ids) - set(taken))


def test_a_guard_is_checked_just_before_its_own_rows_change(tmp_path, make_sim, cli):
    """Rows of one conversation keep their order: the second row's guard sees what the
    first row did, not the state the run started with."""
    sim = make_sim(n_conversations=20)
    change(sim, 5, assigned_user_id=BOB, is_solved=False)
    job = write_job(tmp_path / "job.csv", [
        ("5", "", ALICE, "", BOB, ""),
        ("5", "closed", "", "open", ALICE, ""),
        ("5", "", CAROL, "", BOB, ""),  # BOB is long gone by now: not sent
    ], header=GUARDED)

    result = cli("run", job, "--yes", env=sim_env(sim))

    assert result.code == 0, result.err
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == [
        "ok", "ok", "changed"]
    conv = sim.state.conversations[5]
    assert (conv.assigned_user_id, conv.is_solved) == (ALICE, True)
    assert [(r.method, r.body) for r in sim.state.log.records] == [
        ("GET", None), ("PATCH", {"assigned_user_id": ALICE}),
        ("GET", None), ("PATCH", {"status": "closed"}), ("GET", None)]


def test_a_guarded_run_with_undo_out_makes_one_get_per_row(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=50)
    for cid in range(1, 16):
        change(sim, cid, assigned_user_id=BOB, is_solved=False)
    rows = [(str(cid), "", ALICE, "", BOB, "") for cid in range(1, 16)]
    rows += [(str(cid), "closed", "", "open", "", "") for cid in range(1, 6)]  # a 2nd row
    rows += [(str(cid), "closed", "", "", "", "") for cid in range(16, 19)]  # unguarded
    job = write_job(tmp_path / "job.csv", rows, header=GUARDED)
    undo = tmp_path / "undo.csv"

    result = cli("run", job, "--yes", "--undo-out", undo, env=sim_env(sim))

    assert result.code == 0, result.err
    # The guard's read is the undo capture's: one GET per guarded row, and one per
    # conversation first touched by an unguarded row; never two for one row.
    assert sorted(requests_of(sim, "GET")) == sorted([*range(1, 16), *range(1, 6),
                                                      *range(16, 19)])
    assert len(requests_of(sim, "PATCH")) == 23
    journal = read_job(tmp_path / "undo.csv.journal.csv")
    assert sorted(int(r["conversation_id"]) for r in journal) == list(range(1, 19))
    assert {r["assigned_user_id"] for r in journal if int(r["conversation_id"]) <= 15} == {BOB}


def test_plan_and_run_state_what_the_guards_cost(tmp_path, make_sim, cli):
    rows = [(str(cid), "closed", "", "open", "", "") for cid in range(1, 7)]
    rows += [("7", "closed", "", "", "", ""), ("1", "", ALICE, "", "", "")]
    job = write_job(tmp_path / "job.csv", rows, header=GUARDED)

    plain = json.loads(cli("plan", job, "--json", "--rate-per-minute", "60").out)
    undo = json.loads(cli("plan", job, "--json", "--undo-out", "--rate-per-minute",
                          "60").out)
    off = json.loads(cli("plan", job, "--json", "--no-guards", "--undo-out").out)

    assert (plain["guarded_rows"], plain["guard_reads"], plain["requests"]) == (6, 6, 14)
    assert plain["estimated_duration_s"] == 14.0
    # The guarded first rows' reads serve the undo capture too: one more, for 7.
    assert (undo["undo_reads"], undo["requests"]) == (1, 15)
    assert (off["guards"], off["guard_reads"], off["undo_reads"], off["requests"]) == (
        False, 0, 7, 15)
    text = cli("plan", job, "--rate-per-minute", "60").out
    assert "6 rows guarded" in text and "6 requests more" in text


def test_bad_guard_cells_are_invalid_rows_that_name_the_column(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [
        ("1", "closed", "", "clsed", "", ""),
        ("2", "closed", "", "", "two words", ""),
        ("3", "closed", "", "", "", "yesterday"),
        ("4", "closed", "", "OPEN", "Unassigned", "2026-12-02T02:00:00+01:00"),
    ], header=GUARDED)

    doc = json.loads(cli("plan", job, "--json").out)

    assert doc["exit_code"] == 1 and doc["invalid"] == 3 and doc["guarded_rows"] == 1
    messages = {e["row"]: e["message"] for e in doc["invalid_examples"]}
    assert messages[1].startswith("expect_status 'clsed' is not valid: use 'open' or 'closed'")
    assert messages[2].startswith("expect_assignee 'two words' holds spaces")
    assert messages[3].startswith("expect_no_message_after 'yesterday' is not a time: use "
                                  "ISO 8601")


def test_a_column_that_looks_like_a_guard_but_is_none_is_refused(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "open")],
                    header=("conversation_id", "status", "expect_stauts"))

    result = cli("plan", job)

    assert result.code == 2
    assert "'expect_stauts' is not a guard column: use expect_status" in result.err


def test_no_guards_sends_without_reading(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=20)
    change(sim, 3, assigned_user_id=CAROL)
    job = write_job(tmp_path / "job.csv", [("3", "", ALICE, "", BOB, "")], header=GUARDED)

    result = cli("run", job, "--yes", "--no-guards", env=sim_env(sim))

    assert result.code == 0, result.err
    assert requests_of(sim, "GET") == [] and requests_of(sim, "PATCH") == [3]
    assert sim.state.conversations[3].assigned_user_id == ALICE


def test_the_python_api_takes_guards_too(tmp_path, make_sim, monkeypatch):
    import worker

    sim = make_sim(n_conversations=20)
    change(sim, 3, assigned_user_id=CAROL)
    job = write_job(tmp_path / "job.csv", [("3", "", ALICE, "", BOB, "")], header=GUARDED)
    settings = {"api_key": sim_env(sim)["PARTOO_API_KEY"], "base_url": sim.base_url,
                "rate_per_minute": 60000}

    guarded = worker.run_job(job, settings=settings)
    assert (guarded.exit_code, guarded.counts["changed"]) == (0, 1)
    unguarded = worker.run_job(job, settings=settings, overwrite=True, guards=False)
    assert (unguarded.exit_code, unguarded.counts["ok"]) == (0, 1)
    assert sim.state.conversations[3].assigned_user_id == ALICE


def test_kill_9_then_resume_honours_every_guard(tmp_path, make_sim):
    """A conversation changed while the run sends, one changed while it lay dead: both
    are `changed`; the rows sent before the kill are kept; the rest applied."""
    sim = make_sim(n_conversations=200)
    for cid in range(1, 121):
        change(sim, cid, assigned_user_id=BOB, is_solved=False)
    job = write_job(tmp_path / "job.csv",
                    [(str(cid), "", ALICE, "open", BOB, "") for cid in range(1, 121)],
                    header=GUARDED)
    report = tmp_path / "job.report.csv"
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="1200", PARTOO_CONCURRENCY="4")

    proc = start_worker(job, env, "--quiet")
    wait_for_lines(report, 10, proc)
    change(sim, 100, assigned_user_id=CAROL)  # while the run is sending
    wait_for_lines(report, 30, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    change(sim, 110, is_solved=True)  # while it lay dead
    done_before = {r["row"]: r for r in whole_lines(report)}
    assert 30 <= len(done_before) < 90

    resumed = start_worker(job, {**env, "PARTOO_RATE_PER_MINUTE": "60000"}, "--resume",
                           "--quiet")
    out, err = resumed.communicate(timeout=60)

    assert resumed.returncode == 0, err
    final = read_report(report)
    assert [int(r["row"]) for r in final] == list(range(1, 121))
    assert all(final[int(row) - 1] == line for row, line in done_before.items())
    by_id = {int(r["conversation_id"]): r for r in final}
    assert by_id[100]["outcome"] == "changed" and "now assigned to" in by_id[100]["error"]
    assert by_id[110]["outcome"] == "changed" and "now closed" in by_id[110]["error"]
    assert sim.state.conversations[100].assigned_user_id == CAROL
    assert sim.state.conversations[110].assigned_user_id == BOB
    for cid in set(range(1, 121)) - {100, 110}:
        assert by_id[cid]["outcome"] == "ok", by_id[cid]
        assert sim.state.conversations[cid].assigned_user_id == ALICE
    assert "2 changed" in out


@pytest.mark.parametrize("body, error", [
    ({"is_solved": "yes"}, "is_solved must be true or false"),
    ({"colour": "red"}, "unknown keys ['colour']"),
    ({"last_message_date": "soon"}, "Invalid isoformat"),
])
def test_the_simulators_hand_made_change_refuses_what_it_cannot_do(make_sim, body, error):
    sim = make_sim(n_conversations=5)
    with pytest.raises(urllib.error.HTTPError) as refused:
        change(sim, 1, **body)
    assert refused.value.code == 400
    assert error in json.loads(refused.value.read())["error"]


def test_a_canary_row_rightly_not_sent_does_not_stop_the_canary(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=30)
    for cid in range(1, 11):
        change(sim, cid, assigned_user_id=BOB)
    change(sim, 2, assigned_user_id=CAROL)
    job = write_job(tmp_path / "job.csv",
                    [(str(cid), "", ALICE, "", BOB, "") for cid in range(1, 11)],
                    header=GUARDED)

    result = cli("run", job, "--yes", "--canary", "3", env=sim_env(sim))

    assert result.code == 0, result.err
    outcomes = [r["outcome"] for r in read_report(tmp_path / "job.report.csv")]
    assert outcomes == ["ok", "changed"] + ["ok"] * 8
    assert sim.state.conversations[10].assigned_user_id == ALICE


def test_the_refusal_without_a_terminal_counts_the_guard_reads(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=30)
    job = write_job(tmp_path / "job.csv",
                    [(str(cid), "closed", "", "open", "", "") for cid in range(1, 6)],
                    header=GUARDED)

    result = cli("run", job, env=sim_env(sim))

    assert result.code == 2
    assert "refusing to send 10 requests" in result.err
    assert sim.state.log.records == []


def test_resume_and_retry_failed_leave_changed_rows_alone(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=30)
    for cid in range(1, 6):
        change(sim, cid, assigned_user_id=BOB)
    change(sim, 4, assigned_user_id=CAROL)
    job = write_job(tmp_path / "job.csv",
                    [(str(cid), "", ALICE, "", BOB, "") for cid in range(1, 6)],
                    header=GUARDED)
    env = sim_env(sim)
    assert cli("run", job, "--yes", env=env).code == 0
    seen = len(sim.state.log.records)

    again = cli("run", job, "--yes", "--resume", "--retry-failed", env=env)

    assert again.code == 0, again.err
    assert len(sim.state.log.records) == seen  # nothing to retry: the job is out of date
    rows = read_report(tmp_path / "job.report.csv")
    assert [r["outcome"] for r in rows] == ["ok", "ok", "ok", "changed", "ok"]
    assert sim.state.conversations[4].assigned_user_id == CAROL


@pytest.mark.parametrize("last_message, broken", [
    (None, None),  # no message at all: none after the job's time
    ({"date": "2026-12-02 01:59:59.000000+00:00"}, None),
    ({"date": "2026-12-02 02:14:00.5+00:00"},
     "a message at 2026-12-02T02:14:00Z after the job's 2026-12-02T02:00:00Z"),
    ({"date": "yesterday"}, "its last message's date cannot be read"),
    ("absent", "its last message's date cannot be read"),
])
def test_a_message_guard_never_acts_on_a_guess(last_message, broken):
    from worker.core.conversation import read_state
    from worker.core.operations import parse_guard

    answer = {"id": 1, "is_solved": False, "is_expired": False, "assigned_user_id": None}
    if last_message != "absent":
        answer["last_message"] = last_message
    guard = parse_guard("", "", "2026-12-02T02:00:00Z")
    found = guard.broken(read_state({"conversation": answer}, conversation_id=1))
    if broken is None:
        assert found is None
    else:
        assert found is not None and broken in found
