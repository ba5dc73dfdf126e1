"""Race-safe undo: the undo job expects what the run set, so running it later puts back
only the conversations nobody changed since; `verify` agrees with it."""

from __future__ import annotations

import json

from helpers import change_by_hand as change
from helpers import read_csv as read_job
from helpers import read_report, sim_env, write_job
from worker.simulator import ALICE, BOB, CAROL


def test_an_undo_puts_back_only_what_nobody_changed_since(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=50)
    env = sim_env(sim)
    for cid in range(1, 11):
        change(sim, cid, assigned_user_id=BOB, is_solved=False)
    rows = [(str(cid), "", ALICE) for cid in range(1, 11)]
    rows += [(str(cid), "closed", "") for cid in range(1, 6)]
    job = write_job(tmp_path / "job.csv", rows)
    undo = tmp_path / "undo.csv"
    assert cli("run", job, "--yes", "--undo-out", undo, env=env).code == 0

    undo_rows = read_job(undo)
    assert {(r["status"], r["expect_status"]) for r in undo_rows if r["status"]} == {
        ("open", "closed")}
    assert {(r["assigned_user_id"], r["expect_assignee"]) for r in undo_rows
            if r["assigned_user_id"]} == {(BOB, ALICE)}
    # Meanwhile, others work on some of them.
    change(sim, 2, assigned_user_id=CAROL)  # a colleague took it
    change(sim, 3, is_solved=False)  # re-opened by hand: what the undo would do anyway
    change(sim, 8, assigned_user_id=None)  # unassigned by hand

    # verify of the run says which ones moved since: the same ones the undo will spare.
    checked = cli("verify", tmp_path / "job.report.csv", "--json", env=env)
    assert checked.code == 1
    assert sorted((d["conversation_id"], d["field"])
                  for d in json.loads(checked.out)["differences"]) == [
        (2, "assignee"), (3, "status"), (8, "assignee")]

    summary = tmp_path / "undo-summary.json"
    result = cli("run", undo, "--yes", "--summary-json", summary, env=env)

    assert result.code == 0, result.err
    report = read_report(tmp_path / "undo.report.csv")
    changed = {(int(r["conversation_id"]), r["action"]): r["error"] for r in report
               if r["outcome"] == "changed"}
    assert set(changed) == {(2, "assign"), (8, "assign")}
    assert f"now assigned to {CAROL} (the job expected assigned to {ALICE})" in changed[
        (2, "assign")]
    assert f"now unassigned (the job expected assigned to {ALICE})" in changed[(8, "assign")]
    (reopen_3,) = [r for r in report if r["conversation_id"] == "3" and r["action"] == "open"]
    assert reopen_3["outcome"] == "ok" and reopen_3["error"].startswith("nothing sent")
    state = sim.state.conversations
    assert (state[2].assigned_user_id, state[8].assigned_user_id) == (CAROL, None)
    for cid in set(range(1, 11)) - {2, 8}:
        assert (state[cid].assigned_user_id, state[cid].is_solved) == (BOB, False), cid
    assert all(not state[cid].is_solved for cid in range(1, 6))
    assert json.loads(summary.read_text())["outcomes"]["changed"] == 2

    # verify of the undo: what it did holds; its changed rows are no difference.
    after = cli("verify", tmp_path / "undo.report.csv", "--json", env=env)
    assert after.code == 0, after.err
    doc = json.loads(after.out)
    assert (doc["differ"], doc["changed_rows"]) == (0, 2)


def test_select_undo_out_expects_what_the_job_will_set(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=60)
    out, undo = tmp_path / "job.csv", tmp_path / "undo.csv"
    assert cli("select", "--assigned-to", BOB, "--assign", CAROL, "--out", out,
               "--undo-out", undo, env=sim_env(sim)).code == 0
    rows = read_job(undo)
    assert rows and {(r["assigned_user_id"], r["expect_assignee"]) for r in rows} == {
        (BOB, CAROL)}
