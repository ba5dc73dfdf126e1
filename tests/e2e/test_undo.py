"""--undo-out: a run writes the job that restores what it changed, and it really does."""

from __future__ import annotations

import csv

from helpers import read_report, sim_env, write_job
from worker.simulator import ALICE, BOB, CAROL, Faults


def snapshot(sim) -> dict[int, tuple[bool, str | None]]:
    return {cid: (c.is_solved, c.assigned_user_id)
            for cid, c in sim.state.conversations.items()}


def rows_of(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_the_undo_job_restores_the_state_before_the_run(tmp_path, make_sim, cli):
    sim = make_sim(faults=Faults(error_before=0.1, error_after=0.05, reset_after=0.03,
                                 on_get=True, seed=2))
    before = snapshot(sim)
    rows = []
    for cid in range(1, 41):  # several rows for some conversations; 10, 20, 30, 40 expired
        rows.append((str(cid), "closed" if cid % 2 else "open", ""))
        rows.append((str(cid), "", [ALICE, BOB, CAROL, "unassigned"][cid % 4]))
        if cid % 5 == 0:
            rows.append((str(cid), "", ALICE))
    rows.append(("7", "open", ""))  # the last row for 7 re-opens it
    job = write_job(tmp_path / "job.csv", rows)
    undo = tmp_path / "undo.csv"

    result = cli("run", job, "--yes", "--undo-out", undo, "--max-attempts", "8",
                 env=sim_env(sim))

    assert result.code in (0, 1)
    report = read_report(tmp_path / "job.report.csv")
    assert all(r["outcome"] in ("ok", "failed") for r in report)
    for cid in range(1, 41):  # the state is read once, before the first change
        log = sim.state.log.for_conversation(cid)
        first_patch = next(i for i, r in enumerate(log) if r.method == "PATCH")
        assert [r.method for r in log[:first_patch] if r.status == 200] == ["GET"], cid
    assert "undo: " in result.out and str(undo) in result.out
    undo_rows = rows_of(undo)
    # Only conversations the run changed, only the fields it changed.
    for line in undo_rows:
        cid = int(line["conversation_id"])
        if line["status"]:
            assert before[cid][0] == (line["status"] == "closed")
            assert before[cid][0] != sim.state.conversations[cid].is_solved
        else:
            assert before[cid][1] == (None if line["assigned_user_id"] == "unassigned"
                                      else line["assigned_user_id"])

    restore = cli("run", undo, "--yes", "--report", tmp_path / "undo.report.csv",
                  env=sim_env(sim, PARTOO_BACKOFF_BASE_S="0.01"))
    assert restore.code in (0, 1)
    sim.set_faults(Faults())
    assert {r["outcome"] for r in read_report(tmp_path / "undo.report.csv")} <= {"ok",
                                                                               "failed"}
    after = snapshot(sim)
    lost = {int(r["conversation_id"])
            for r in rows_of(tmp_path / "undo.csv.not-restorable.csv")} \
        if (tmp_path / "undo.csv.not-restorable.csv").exists() else set()
    failed_undo = {int(r["conversation_id"]) for r in read_report(tmp_path /
                                                                 "undo.report.csv")
                   if r["outcome"] != "ok"}
    for cid in range(1, 41):
        if cid in lost or cid in failed_undo:
            continue
        assert after[cid] == before[cid], cid
    assert after == before | {cid: after[cid] for cid in lost | failed_undo}


def test_an_expired_conversation_closed_by_the_run_is_listed_not_written(tmp_path,
                                                                         make_sim, cli):
    sim = make_sim()
    conv = sim.state.conversations[10]
    assert conv.is_expired and not conv.is_solved
    assert not sim.state.conversations[11].is_solved
    job = write_job(tmp_path / "job.csv", [("10", "closed", ""), ("11", "closed", "")])
    undo = tmp_path / "undo.csv"
    result = cli("run", job, "--yes", "--undo-out", undo, env=sim_env(sim))
    assert result.code == 0
    assert [(r["conversation_id"], r["status"]) for r in rows_of(undo)] == [("11", "open")]
    (lost,) = rows_of(tmp_path / "undo.csv.not-restorable.csv")
    assert lost["conversation_id"] == "10" and "expired" in lost["reason"]
    assert "1 change(s) cannot be undone" in result.err


def test_unchanged_conversations_are_not_in_the_undo_job(tmp_path, make_sim, cli):
    sim = make_sim()
    already = [cid for cid, c in sim.state.conversations.items()
               if c.is_solved and not c.is_expired][:3]
    job = write_job(tmp_path / "job.csv", [(str(cid), "closed", "") for cid in already])
    undo = tmp_path / "undo.csv"
    assert cli("run", job, "--yes", "--undo-out", undo, env=sim_env(sim)).code == 0
    assert rows_of(undo) == []


def test_undo_survives_an_abort_and_resume_without_reading_changed_state(tmp_path,
                                                                         make_sim, cli):
    sim = make_sim()
    before = snapshot(sim)
    job = write_job(tmp_path / "job.csv", [(str(c), "", ALICE) for c in range(1, 13)])
    undo = tmp_path / "undo.csv"
    sim.script(6, ["401"])
    first = cli("run", job, "--yes", "--concurrency", "1", "--undo-out", undo,
                env=sim_env(sim))
    assert first.code == 3 and "--undo-out" in first.err
    refused = cli("run", job, "--yes", "--resume", env=sim_env(sim))
    assert refused.code == 2 and "same --undo-out" in refused.err
    second = cli("run", job, "--yes", "--resume", "--retry-failed", "--undo-out", undo,
                 env=sim_env(sim))
    assert second.code == 0
    gets = [r.conversation_id for r in sim.state.log.records if r.method == "GET"]
    assert sorted(gets) == list(range(1, 13))  # each read once, before its change
    assert cli("run", undo, "--yes", env=sim_env(sim)).code == 0
    assert snapshot(sim) == before


def test_undo_out_refuses_to_overwrite(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    undo = tmp_path / "undo.csv"
    undo.write_text("keep me\n")
    result = cli("run", job, "--yes", "--undo-out", undo, env=sim_env(sim))
    assert result.code == 2 and "undo file is already there" in result.err
    assert undo.read_text() == "keep me\n"


def test_verify_passes_after_a_run_and_names_each_difference_after_changes(tmp_path,
                                                                          make_sim, cli):
    sim = make_sim(faults=Faults(error_before=0.1, on_get=True, seed=9))
    rows = [(str(c), "closed", "") for c in range(1, 16) if c % 10] + \
        [(str(c), "", BOB) for c in range(1, 16)] + [("3", "", "unassigned")]
    job = write_job(tmp_path / "job.csv", rows)
    assert cli("run", job, "--yes", "--max-attempts", "8", env=sim_env(sim)).code == 0
    report = tmp_path / "job.report.csv"

    ok = cli("verify", report, env=sim_env(sim, PARTOO_MAX_ATTEMPTS="8"))
    assert ok.code == 0, ok.out + ok.err
    assert "15 of 15 changed conversations checked: 15 as expected, 0 differ" in ok.err

    # Someone else changes three conversations after the run.
    sim.state.conversations[4].is_solved = False
    sim.state.conversations[3].assigned_user_id = CAROL
    sim.state.conversations[12].assigned_user_id = None
    changed = cli("verify", report, env=sim_env(sim, PARTOO_MAX_ATTEMPTS="8"))
    assert changed.code == 1
    lines = changed.out.splitlines()
    assert "conversation 4, row 4: status: expected closed, found open" in lines
    assert f"conversation 3, row 30: assignee: expected unassigned, found {CAROL}" in lines
    assert f"conversation 12, row 26: assignee: expected {BOB}, found unassigned" in lines
    assert len(lines) == 3

    sampled = cli("verify", report, "--sample", "5", env=sim_env(sim))
    assert "5 of 15 changed conversations checked" in sampled.err


def test_verify_refuses_a_file_that_is_not_a_report(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("verify", job, env=sim_env(sim))
    assert result.code == 2 and "this is a job file, not a report" in result.err
