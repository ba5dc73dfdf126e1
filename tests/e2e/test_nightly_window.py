"""The nightly close-stale runbook with its window: a night's run stops at FINISH_BY,
exit 3, and says how to finish; `report` agrees that it is not done."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import script, sim_env

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_close_stale_stops_at_its_window_and_says_how_to_finish(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=120)
    done = script("close-stale.sh", cwd=tmp_path,
                  env=sim_env(sim, OUT_DIR=str(tmp_path / "out"), FINISH_BY="+1s",
                              PARTOO_RATE_PER_MINUTE="120"))
    assert done.returncode == 3, done.stderr
    assert "window closed" in done.stderr and "--resume" in done.stderr
    (job,) = (tmp_path / "out").glob("close-stale-*Z.csv")
    summary = json.loads(job.with_name(job.stem + ".summary.json").read_text())
    assert summary["stop_kind"] == "window" and summary["finished"] is False
    assert summary["outcomes"]["skipped"] > 0
    report = cli("report", job.with_name(job.stem + ".report.csv"), "--json", env={})
    assert report.code == 3 and json.loads(report.out)["stop_kind"] == "window"


def test_close_stale_with_a_window_that_fits_is_silent(tmp_path, make_sim):
    sim = make_sim(n_conversations=40)
    done = script("close-stale.sh", cwd=tmp_path,
                  env=sim_env(sim, OUT_DIR=str(tmp_path / "out")))  # the default +30m
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == ""
