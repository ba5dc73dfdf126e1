"""Run options an operator or a monitor relies on: confirmation, --strict, summary JSON, logs."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from helpers import SECRET, read_report, sim_env, write_job


def run_on_a_terminal(job, env, answer: str, *args: str) -> tuple[int, str, str]:
    """The worker with a pseudo-terminal on stdin (and no controlling terminal: its own
    session, so a developer's terminal is never asked), answering the prompt."""
    master, slave = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    full_env.update(env)
    proc = subprocess.Popen([sys.executable, "-m", "worker", "run", str(job), "--quiet", *args],
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=full_env, text=True, start_new_session=True)
    os.close(slave)
    os.write(master, answer.encode() + b"\n")
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    return proc.returncode, out, err


@pytest.mark.parametrize(("answer", "code"), [("y", 0), ("n", 2), ("", 2)])
def test_on_a_terminal_the_plan_is_shown_and_confirmation_asked(tmp_path, make_sim, answer,
                                                                code):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "", "unassigned"),
                                           ("zz", "closed", "")])
    returncode, out, err = run_on_a_terminal(job, sim_env(sim), answer)
    assert returncode == (1 if code == 0 else code)  # the invalid row makes a full run 1
    assert "3 rows: 1 close, 1 unassign, 1 invalid" in err
    assert "row 3" in err and "conversation_id 'zz'" in err
    question = f"Send 2 requests to {sim.base_url.split('/')[2]}? [y/N]"
    assert question in err and "Send" not in out  # stdout is for the summary only
    sent = sim.state.log.stats()["requests"]
    if code == 0:
        assert sent == 2
    else:
        assert sent == 0 and "cancelled: nothing was sent" in err


def test_a_resume_on_a_terminal_says_what_is_kept_and_asks_for_what_is_left(tmp_path,
                                                                            make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 11)])
    report = tmp_path / "job.report.csv"
    assert cli("run", job, "--yes", "--quiet", env=sim_env(sim)).code == 0
    lines = report.read_text(encoding="utf-8").splitlines(keepends=True)
    report.write_text("".join(lines[:8]), encoding="utf-8")  # rows 1-7 done, as after a kill
    returncode, out, err = run_on_a_terminal(job, sim_env(sim), "y", "--resume")
    assert returncode == 0, err
    assert "resuming: 7 of these rows are done in" in err
    assert f"Send up to 3 requests to {sim.base_url.split('/')[2]}? [y/N]" in err
    assert "Send" not in out
    assert sim.state.log.stats()["requests"] == 13


def test_strict_refuses_a_job_with_invalid_rows(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("-4", "closed", "")])
    result = cli("run", job, "--yes", "--strict", env=sim_env(sim))
    assert result.code == 2 and "1 invalid row(s) and --strict" in result.err
    assert "row 2: conversation_id '-4'" in result.err
    assert sim.state.log.stats()["requests"] == 0
    assert not (tmp_path / "job.report.csv").exists()


def test_summary_json_for_monitoring(tmp_path, make_sim, cli):
    sim = make_sim()
    sim.script(3, ["429", "500", "ok"])
    sim.script(4, ["404"])
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", ""),
                                           ("3", "closed", ""), ("4", "closed", ""),
                                           ("x", "closed", "")])
    summary_path = tmp_path / "summary.json"
    result = cli("run", job, "--yes", "--summary-json", summary_path,
                 env=sim_env(sim, PARTOO_MAX_RETRY_AFTER_S="0.05"))
    data = json.loads(summary_path.read_text())
    assert result.code == 1 and data["exit_code"] == 1
    assert data["outcomes"] == {"ok": 3, "failed": 1, "invalid": 1, "skipped": 0,
                                   "changed": 0}
    assert data["http_statuses"] == {"200": 3, "404": 1, "none": 1}  # the invalid row
    assert data["requests"] == 6 and data["http_429"] == 1 and data["retries"] == 1
    assert data["errors"] == {"404 Resource not found": 1}
    assert data["report"] == str(tmp_path / "job.report.csv")
    assert data["wall_time_s"] > 0 and data["achieved_rate_per_minute"] > 0
    assert data["stop_reason"] is None


def test_summary_json_is_written_when_the_run_cannot_start(tmp_path, cli):
    summary_path = tmp_path / "summary.json"
    result = cli("run", tmp_path / "missing.csv", "--yes", "--summary-json", summary_path,
                 env={"PARTOO_API_KEY": SECRET})
    data = json.loads(summary_path.read_text())
    assert result.code == 2 and data["exit_code"] == 2
    assert "no such job file" in data["error"]


def test_verbose_logs_one_line_per_request_with_the_key_masked(tmp_path, make_sim, cli):
    sim = make_sim()
    sim.script(2, ["503"])
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    result = cli("run", job, "--yes", "-v", env=sim_env(sim))
    lines = [line for line in result.err.splitlines() if "PATCH /conversations/" in line]
    assert len(lines) == 3
    assert any("/conversations/2 row=2 attempt=1 -> 503" in line for line in lines)
    assert any("/conversations/2 row=2 attempt=2 -> 200" in line for line in lines)
    assert SECRET not in result.err + result.out


def test_json_logs_for_log_shippers(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("7", "closed", "")])
    result = cli("run", job, "--yes", "-v", "--log-format", "json", env=sim_env(sim))
    records = [json.loads(line) for line in result.err.splitlines() if line.startswith("{")]
    (rec,) = [r for r in records if r.get("path") == "/conversations/7"]
    assert (rec["method"], rec["http_status"], rec["attempt"], rec["row"]) == ("PATCH", 200, 1, 1)
    assert "status" not in rec and rec["conversation_id"] == 7
    assert rec["level"] == "info" and "duration_ms" in rec
    assert read_report(tmp_path / "job.report.csv")[0]["outcome"] == "ok"


def test_a_run_held_back_by_the_concurrency_cap_says_so_and_one_held_by_the_rate_does_not(
        tmp_path, make_sim, cli):
    from worker.simulator.faults import Faults

    # Every reply takes 0.3 s; at 600/min (10/s) that needs 3 requests out at once.
    sim = make_sim(faults=Faults(slow=1.0, slow_s=0.3))
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 13)])
    capped_json, free_json = tmp_path / "capped.json", tmp_path / "free.json"
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="600", PARTOO_REQUEST_TIMEOUT_S="5")
    capped = cli("run", job, "--yes", "--overwrite", "--concurrency", "1",
                 "--summary-json", capped_json, env=env)
    free = cli("run", job, "--yes", "--overwrite", "--summary-json", free_json, env=env)
    assert capped.code == free.code == 0
    assert "| concurrency 1 reached: raise --concurrency (it held requests back" in capped.out
    assert "concurrency" not in free.out
    capped_data = json.loads(capped_json.read_text())["concurrency"]
    free_data = json.loads(free_json.read_text())["concurrency"]
    assert capped_data["cap"] == 1 and capped_data["most_in_flight"] == 1
    assert capped_data["cap_reached"] and capped_data["hint"].startswith("concurrency 1")
    assert free_data["cap"] == 8 and not free_data["cap_reached"]
    assert 3 <= free_data["most_in_flight"] <= 4  # rate x latency, not the cap
