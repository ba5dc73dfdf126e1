"""`run --finish-by WHEN` through the CLI and the Python API: refused when it cannot be,
`plan` says whether the job fits, a real process stops at a short window with a whole
report, exit 3, and `--resume` finishes it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest

from helpers import SECRET, read_report, sim_env, write_job


def test_run_refuses_a_bad_finish_by_before_sending_with_the_summary_json(tmp_path, cli,
                                                                          make_sim):
    sim = make_sim(n_conversations=5)
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    summary = tmp_path / "s.json"
    result = cli("run", job, "--yes", "--finish-by", "tonight", "--summary-json", summary,
                 env=sim_env(sim))
    assert result.code == 2 and "--finish-by 'tonight'" in result.err
    assert "Traceback" not in result.err
    assert json.loads(summary.read_text())["exit_code"] == 2
    assert not sim.state.log.records


def test_plan_takes_finish_by_and_says_in_json_whether_it_fits(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 601)])
    fits = cli("plan", job, "--finish-by", "+1h", "--json")
    short = cli("plan", job, "--finish-by", "+1m", "--json", "--rate-per-minute", "300")
    assert json.loads(fits.out)["window"]["fits"] is True
    window = json.loads(short.out)["window"]
    assert window["fits"] is False and window["rows_to_send"] == 600
    assert 295 <= window["rows_reached"] <= 300  # 60 s at 300/min, give or take a second
    assert "--finish-by +1m" in json.loads(short.out)["run_command"]
    text = cli("plan", job, "--finish-by", "+1m")
    assert text.code == 0 and "does NOT fit" in text.out
    assert cli("plan", job, "--finish-by", "soon").code == 2


def test_a_short_window_stops_on_time_with_a_whole_report_and_resume_finishes(tmp_path,
                                                                              make_sim):
    sim = make_sim(n_conversations=80)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 61)])
    report, summary, prom = (tmp_path / "job.report.csv", tmp_path / "s.json",
                             tmp_path / "partoo.prom")
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="60")  # 60 rows: a minute's job
    full_env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PARTOO_")}
    full_env.update(env)
    # An absolute time, so that the test knows the deadline as the run does.
    # 8 s: the process must start (imports, a busy machine) well within it.
    when = datetime.now().astimezone() + timedelta(seconds=8)
    closes = time.monotonic() + (when - datetime.now().astimezone()).total_seconds()
    stopped = subprocess.run(
        [sys.executable, "-m", "worker", "run", str(job), "--yes", "--quiet",
         "--finish-by", when.isoformat(), "--summary-json", str(summary),
         "--metrics-out", str(prom), "--log-format", "json"],
        env=full_env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    ended = time.monotonic()

    assert stopped.returncode == 3, stopped.stderr
    data = json.loads(summary.read_text())
    assert data["stop_kind"] == "window" and data["finished"] is False
    events = [json.loads(line) for line in stopped.stderr.splitlines()]
    window = next(e for e in events if e["event"] == "window")
    assert window["fits"] is False and window["rows_reached"] < 60
    stop = next(e for e in events if e["event"] == "stopped")
    assert stop["stop_kind"] == "window" and "--resume" in stop["resume_command"]
    rows = read_report(report)
    assert [int(r["row"]) for r in rows] == list(range(1, 61))  # whole
    sent = [r for r in rows if r["outcome"] == "ok"]
    assert 1 <= len(sent) <= 10 and all(r["outcome"] == "skipped" for r in rows[len(sent):])
    patches = [r for r in sim.state.log.records if r.method == "PATCH"]
    assert len(patches) == len(sent)
    # No request started after WHEN (the server saw each within loopback's delay).
    assert max(r.at for r in patches) <= closes + 0.5
    print(f"stopped {ended - closes:.2f} s after the deadline (process exit)")
    assert "partoo_bulk_finished{" in prom.read_text() and \
        'partoo_bulk_stopped{bulk_job="partoo",stop_kind="window"} 1.0' in prom.read_text()

    resumed = subprocess.run(
        [sys.executable, "-m", "worker", "run", str(job), "--yes", "--quiet", "--resume"],
        env={**full_env, "PARTOO_RATE_PER_MINUTE": "60000"}, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL)
    assert resumed.returncode == 0, resumed.stderr
    assert [r["outcome"] for r in read_report(report)] == ["ok"] * 60
    patched = [r.conversation_id for r in sim.state.log.records if r.method == "PATCH"]
    assert sorted(patched) == list(range(1, 61))  # each once: the window sent none twice


async def test_the_python_api_takes_finish_by(tmp_path, make_sim):
    import worker

    sim = make_sim(n_conversations=30)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 21)])
    settings = {"api_key": SECRET, "base_url": sim.base_url, "rate_per_minute": 120}
    result = await worker.arun_job(job, settings=settings, finish_by="+3s")  # of 10 s
    assert result.exit_code == 3 and result.stop_kind == "window"
    assert 0 < result.counts["ok"] < 20 and result.counts["skipped"] == 20 - result.counts["ok"]
    with pytest.raises(worker.StartupError, match="finish_by"):
        await worker.arun_job(job, settings=settings, finish_by="later", overwrite=True)
    done = await worker.arun_job(job, settings={**settings, "rate_per_minute": 60000},
                                 resume=True)
    assert done.exit_code == 0 and done.counts["ok"] == 20
