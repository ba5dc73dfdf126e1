"""Whose fault a failed row is, decided once (`worker.core.errors.Fault`) and carried in the
report's `fault` column: the breaker, the run's summary, `report` and its next steps agree.

Driven through the real CLI against the simulator with a base URL that lacks `/v2`: every
request gets the simulator's plain-text 404, an answer that is not Partoo's API."""

from __future__ import annotations

import json

from helpers import read_report, sim_env, write_job


def _events(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_a_base_url_without_v2_stops_on_the_breaker_and_report_advises_the_outage(
        tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 121)])
    report_path = tmp_path / "job.report.csv"
    wrong = sim_env(sim, PARTOO_BASE_URL=sim.base_url.removesuffix("/v2"))

    summary_path = tmp_path / "summary.json"
    run = cli("run", job, "--yes", "--quiet", "--log-format", "json",
              "--summary-json", summary_path, env=wrong)

    assert run.code == 3, run.err
    stops = [e for e in _events(run.err) if e.get("event") == "aborted"]
    assert [e["stop_kind"] for e in stops] == ["breaker"]
    assert stops[0]["resume_command"].endswith("--resume --retry-failed")
    rows = read_report(report_path)
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert failed and all(r["http_status"] == "404" for r in failed)
    assert {r["fault"] for r in failed} == {"outage"}
    assert {r["fault"] for r in rows if r["outcome"] != "failed"} == {""}
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["failed_on_outage"] == len(failed) and summary["exit_code"] == 3

    document = json.loads(cli("report", report_path, "--json", env={}).out)
    assert document["failed_on_outage"] == len(failed)
    kinds = [s["kind"] for s in document["next_steps"]]
    assert kinds == ["retry_outage"]  # not "retry_refused": the rows are not at fault
    step = document["next_steps"][0]
    assert step["rows"] == len(rows)  # the failed rows and the skipped ones, one command
    assert step["commands"][0].endswith("--resume --retry-failed")

    text = cli("report", report_path, env={}).out
    assert "Fix the cause (user, access, id)" not in text
    assert "--resume --retry-failed" in text

    # Fixed: the resume command the advice gave finishes the job.
    done = cli("run", job, "--yes", "--quiet", "--resume", "--retry-failed",
               env=sim_env(sim))
    assert done.code == 0, done.err
    assert [r["outcome"] for r in read_report(report_path)] == ["ok"] * 120
    assert json.loads(cli("report", report_path, "--json", env={}).out)["next_steps"] == []


def test_rows_the_api_refuses_are_the_rows_fault_and_report_says_fix_them(
        tmp_path, make_sim, cli):
    from worker.simulator import INACTIVE_USER

    sim = make_sim()
    job = write_job(tmp_path / "job.csv",
                    [("1", "closed", ""), ("2", "", INACTIVE_USER), ("3", "closed", "")])
    run = cli("run", job, "--yes", "--quiet", env=sim_env(sim))
    assert run.code == 1, run.err
    rows = read_report(tmp_path / "job.report.csv")
    assert [(r["outcome"], r["fault"]) for r in rows] == [
        ("ok", ""), ("failed", "refused"), ("ok", "")]

    document = json.loads(cli("report", tmp_path / "job.report.csv", "--json", env={}).out)
    assert document["failed_on_outage"] == 0
    assert [s["kind"] for s in document["next_steps"]] == ["retry_refused"]
