"""The runbooks in jobs/, run as cron would run them: bash, a subprocess, the simulator."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import SECRET, read_report, script, sim_env
from worker.simulator import ALICE, BOB, CAROL

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_close_stale_selects_then_runs_and_exits_0(tmp_path, make_sim):
    sim = make_sim(n_conversations=120)
    unsolved = sim.call(lambda s: sorted(c.id for c in s.state.conversations.values()
                                         if not c.is_solved))
    prom = tmp_path / "partoo_close_stale.prom"
    done = script("close-stale.sh", cwd=tmp_path,
                  env=sim_env(sim, STALE_DAYS="30", OUT_DIR=str(tmp_path / "out"),
                              METRICS_OUT=str(prom)))
    assert done.returncode == 0, done.stderr
    assert 'partoo_bulk_exit_code{bulk_job="partoo_close_stale"} 0.0' in prom.read_text()
    (job,) = (tmp_path / "out").glob("close-stale-*Z.csv")
    report = read_report(job.with_name(job.stem + ".report.csv"))
    # The seeded conversations are from 2023: every unsolved one is stale today.
    assert [int(r["conversation_id"]) for r in report] == unsolved
    assert {r["outcome"] for r in report} == {"ok"}
    summary = json.loads(job.with_name(job.stem + ".summary.json").read_text())
    assert summary["exit_code"] == 0 and summary["outcomes"]["ok"] == len(unsolved)
    assert sim.call(lambda s: all(c.is_solved for c in s.state.conversations.values()))
    assert done.stdout == done.stderr == ""  # cron mails nothing on a good night
    assert SECRET not in done.stdout + done.stderr


def test_close_stale_speaks_up_when_rows_fail(tmp_path, make_sim):
    sim = make_sim(n_conversations=60)
    unsolved = sim.call(lambda s: sorted(c.id for c in s.state.conversations.values()
                                         if not c.is_solved))
    sim.script(unsolved[0], ["403"])
    done = script("close-stale.sh", cwd=tmp_path,
                  env=sim_env(sim, STALE_DAYS="30", OUT_DIR=str(tmp_path / "out")))
    assert done.returncode == 1
    assert f"{len(unsolved)} rows: {len(unsolved) - 1} ok, 1 failed" in done.stderr
    assert "report: " in done.stderr and done.stdout == ""


def test_close_stale_with_a_bad_key_exits_3_and_sends_nothing(tmp_path, make_sim):
    sim = make_sim()
    done = script("close-stale.sh", cwd=tmp_path,
                  env=sim_env(sim, PARTOO_API_KEY="revoked-key", OUT_DIR=str(tmp_path)))
    assert done.returncode == 3 and "select failed (exit 3)" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] in ([], [".close-stale.lock"])
    assert sim.call(lambda s: s.state.log.stats()["applied"]) == 0


def test_reassign_leaver_writes_the_job_and_asks_before_sending(tmp_path, make_sim):
    sim = make_sim(n_conversations=120)
    done = script("reassign-leaver.sh", ALICE, f"{BOB},{CAROL}", "--unsolved", cwd=tmp_path,
                  env=sim_env(sim))
    # No terminal to confirm on: run refuses, and nothing is sent.
    assert done.returncode == 2 and "--yes" in done.stderr, done.stderr
    (job,) = [p for p in tmp_path.glob(f"reassign-{ALICE}-*.csv") if p.stem.count(".") == 0]
    assert job.read_text().startswith("conversation_id,assigned_user_id,")
    assert sim.call(lambda s: s.state.log.stats()["applied"]) == 0
    usage = script("reassign-leaver.sh", ALICE, cwd=tmp_path, env=sim_env(sim))
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_reassign_leaver_changes_verifies_and_can_be_rolled_back(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=90)
    before = sim.call(lambda s: {c.id: c.assigned_user_id
                                 for c in s.state.conversations.values()})
    done = script("reassign-leaver.sh", ALICE, f"{BOB},{CAROL}", cwd=tmp_path,
                  env=sim_env(sim, ASSUME_YES="1"))
    assert done.returncode == 0, done.stderr
    assert "as expected, 0 differ" in done.stderr and "to roll back:" in done.stderr
    after = sim.call(lambda s: {c.id: c.assigned_user_id
                                for c in s.state.conversations.values()})
    moved = [cid for cid, who in before.items() if who == ALICE]
    assert moved and all(after[cid] in (BOB, CAROL) for cid in moved)
    (undo,) = tmp_path.glob(f"reassign-{ALICE}-*.undo.csv")
    assert cli("run", undo, "--yes", env=sim_env(sim)).code == 0
    assert sim.call(lambda s: {c.id: c.assigned_user_id
                               for c in s.state.conversations.values()}) == before
