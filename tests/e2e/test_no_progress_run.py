"""A quota used up for good, against the simulator: the run stops once no request went
through for `no_progress_timeout_s`, with the reason in the summary and its JSON (stop
kind `no_progress`, exit 3), and the command that resumes."""

from __future__ import annotations

import json

from helpers import read_report, sim_env, write_job
from worker.simulator import Faults


def test_the_stop_is_in_the_summary_and_its_json(tmp_path, make_sim, cli):
    sim = make_sim(faults=Faults(force_status=429, retry_after_header="86400"))
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 31)])
    summary = tmp_path / "s.json"
    result = cli("run", job, "--yes", "--summary-json", summary,
                 env=sim_env(sim, PARTOO_NO_PROGRESS_TIMEOUT_S="0.5",
                             PARTOO_MAX_RETRY_AFTER_S="0.2"))
    assert result.code == 3, result.err
    assert "no request went through for 0.5 s" in result.err
    assert "--resume --retry-failed" in result.err
    data = json.loads(summary.read_text())
    assert data["stop_kind"] == "no_progress" and data["finished"] is False
    assert "no_progress_timeout_s" in data["stop_reason"]
    assert {r["outcome"] for r in read_report(tmp_path / "job.report.csv")} <= {"skipped",
                                                                               "failed"}
