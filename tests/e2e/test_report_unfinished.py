"""`report` never says done when the run is not: after a kill -9, a Ctrl-C, a canary
stop or a closed --finish-by window it says how many rows are not finished, gives the
resume command and exits 3; `--json` has `finished`, `rows_missing` and the next step."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from helpers import read_report, sim_env, start_worker, wait_for_lines, write_job


def closing_job(folder: Path, n: int) -> Path:
    return write_job(folder / "job.csv", [(str(i), "closed", "") for i in range(1, n + 1)])


def report_json(cli, report: Path) -> dict:
    result = cli("report", report, "--json", env={})
    data = json.loads(result.out)
    assert data["exit_code"] == result.code
    return data


def test_after_a_kill_9_report_says_how_many_rows_are_missing_and_how_to_resume(
        tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=100)
    job = closing_job(tmp_path, 61)
    report = tmp_path / "job.report.csv"
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="600", PARTOO_CONCURRENCY="2")
    proc = start_worker(job, env, "--quiet")
    wait_for_lines(report, 10, proc)
    proc.send_signal(signal.SIGKILL)  # a real kill -9 of a real process
    proc.wait()
    in_report = len(read_report(report))
    assert 10 <= in_report < 61

    text = cli("report", report, env={})
    assert text.code == 3
    assert "every row is ok" not in text.out and "nothing to do" not in text.out
    assert f"{61 - in_report} of the job's 61 rows are not yet in the report" in text.out
    assert f"partoo-bulk run {job} --report {report} --resume" in text.out
    data = report_json(cli, report)
    assert data["finished"] is False and data["job_rows"] == 61
    assert data["rows_missing"] == 61 - in_report and data["exit_code"] == 3
    step = data["next_steps"][0]
    assert step["kind"] == "resume" and step["rows"] == 61 - in_report
    assert step["commands"] == [f"partoo-bulk run {job} --report {report} --resume"]

    finished = start_worker(job, {**env, "PARTOO_RATE_PER_MINUTE": "60000"}, "--resume")
    finished.communicate(timeout=60)
    assert finished.returncode == 0
    done = report_json(cli, report)
    assert done["finished"] is True and done["rows_missing"] == 0 and done["exit_code"] == 0
    assert cli("report", report, env={}).code == 0


def test_after_a_ctrl_c_report_says_the_run_was_interrupted(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=400)
    job = closing_job(tmp_path, 300)
    report = tmp_path / "job.report.csv"
    proc = start_worker(job, sim_env(sim, PARTOO_RATE_PER_MINUTE="3000"), "--quiet")
    wait_for_lines(report, 10, proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    data = report_json(cli, report)
    assert data["finished"] is False and data["rows_missing"] == 0  # whole, but skipped
    assert data["stop_kind"] == "interrupted" and data["outcomes"]["skipped"] > 0
    assert data["next_steps"][0]["kind"] == "resume"
    assert "interrupted" in data["unfinished"]


def test_after_a_canary_stop_report_is_not_done(tmp_path, make_sim, cli):
    sim = make_sim()
    sim.script(2, ["lose"])  # 200 success, and the conversation stays open
    job = closing_job(tmp_path, 12)
    prom = tmp_path / "partoo.prom"
    assert cli("run", job, "--yes", "--canary", "4", "--metrics-out", prom,
               env=sim_env(sim)).code == 1
    metrics = prom.read_text()
    # Exit 1, but not finished: 8 rows wait; no success recorded for alerting.
    assert 'partoo_bulk_finished{bulk_job="partoo"} 0.0' in metrics
    assert 'partoo_bulk_stopped{bulk_job="partoo",stop_kind="canary"} 1.0' in metrics
    assert "last_success_timestamp_seconds" not in metrics
    report = tmp_path / "job.report.csv"
    data = report_json(cli, report)
    assert data["finished"] is False and data["stop_kind"] == "canary"
    assert data["outcomes"]["skipped"] == 8 and data["exit_code"] == 3
    assert "canary" in data["unfinished"]


def test_after_a_closed_window_report_is_not_done(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=50)
    job = closing_job(tmp_path, 40)
    result = cli("run", job, "--yes", "--quiet", "--finish-by", "+1s",
                 env=sim_env(sim, PARTOO_RATE_PER_MINUTE="120"))
    assert result.code == 3 and "window closed" in result.err
    data = report_json(cli, tmp_path / "job.report.csv")
    assert data["finished"] is False and data["stop_kind"] == "window"
    assert data["rows_missing"] == 0 and data["outcomes"]["skipped"] > 0
    assert "--finish-by window closed" in data["unfinished"]


def test_a_finished_run_with_failed_rows_is_finished(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=5)
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("999999", "closed", "")])
    assert cli("run", job, "--yes", "--quiet", env=sim_env(sim)).code == 1
    data = report_json(cli, tmp_path / "job.report.csv")
    assert data["finished"] is True and data["exit_code"] == 0
