"""`select --undo-out`: the listing's own state becomes the job that rolls the change back."""

from __future__ import annotations

import csv

from helpers import read_report, sim_env
from worker.simulator import ALICE, BOB, CAROL


def snapshot(sim):
    return sim.call(lambda s: {c.id: (c.is_solved, c.assigned_user_id)
                               for c in s.state.conversations.values()})


def rows_of(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_select_undo_then_run_then_undo_restores_the_leavers_conversations(tmp_path,
                                                                            make_sim, cli):
    sim = make_sim(n_conversations=120)
    before = snapshot(sim)
    job, undo = tmp_path / "leaver.csv", tmp_path / "leaver.undo.csv"
    selected = cli("select", "--assigned-to", BOB, "--assign-round-robin", f"{ALICE},{CAROL}",
                   "--out", job, "--undo-out", undo, env=sim_env(sim))
    assert selected.code == 0, selected.err
    assert len(sim.state.log.records) == 2  # two pages of 100: no extra request for undo
    job_rows, undo_rows = rows_of(job), rows_of(undo)
    assert [r["conversation_id"] for r in undo_rows] == [r["conversation_id"]
                                                         for r in job_rows]
    assert {r["assigned_user_id"] for r in undo_rows} == {BOB}

    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    assert all(snapshot(sim)[int(r["conversation_id"])][1] in (ALICE, CAROL)
               for r in job_rows)
    assert cli("run", undo, "--yes", env=sim_env(sim)).code == 0
    assert snapshot(sim) == before


def test_select_undo_lists_expired_conversations_it_cannot_reopen(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=60)
    before = snapshot(sim)
    job, undo = tmp_path / "close.csv", tmp_path / "close.undo.csv"
    assert cli("select", "--unsolved", "--action", "close", "--out", job, "--undo-out", undo,
               env=sim_env(sim)).code == 0
    expired = {str(c) for c in range(10, 61, 10) if not before[c][0]}
    lost = rows_of(tmp_path / "close.undo.csv.not-restorable.csv")
    assert {r["conversation_id"] for r in lost} == expired
    assert all("expired" in r["reason"] for r in lost)
    assert not expired & {r["conversation_id"] for r in rows_of(undo)}
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    assert cli("run", undo, "--yes", env=sim_env(sim)).code == 0
    after = snapshot(sim)
    assert {c for c in before if after[c] != before[c]} == {int(c) for c in expired}
    assert all(r["outcome"] == "ok" for r in read_report(tmp_path / "close.undo.report.csv"))
