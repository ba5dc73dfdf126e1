"""A canary's run that stops after its first part: the metrics never call it a success,
Ctrl-C during the read-back still leaves the summary and the way on, and a job read from
stdin is sent whole (the rest read from the copy the canary pinned)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers import read_report, sim_env, write_job


def closing_job(folder, n=12):
    return write_job(folder / "job.csv", [(str(i), "closed", "") for i in range(1, n + 1)])


def gauges(path) -> dict[str, float]:
    return {s.name: s.value for family in text_string_to_metric_families(path.read_text())
            for s in family.samples if s.name != "partoo_bulk_rows"}


def patches(sim) -> list[int]:
    return [r.conversation_id for r in sim.state.log.records if r.method == "PATCH"]


# The worker started as a script's `cmd &` starts it: SIGINT ignored from the start
# (Python then leaves it ignored), set in the child just before it runs the worker.
_SIGINT_IGNORED = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                   "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


def worker(args, env, *, sigint_ignored=False, **kw) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    full.update(env)
    start = [sys.executable, "-c", _SIGINT_IGNORED] if sigint_ignored else [sys.executable]
    return subprocess.Popen([*start, "-m", "worker", "run", *map(str, args)],
                            env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def test_a_canary_that_stops_the_run_is_no_success_in_the_metrics(tmp_path, make_sim, cli):
    sim = make_sim()
    sim.script(2, ["lose"])  # does not hold: the other rows are held back
    job = closing_job(tmp_path)
    metrics, summary = tmp_path / "nightly.prom", tmp_path / "s.json"
    result = cli("run", job, "--yes", "--canary", "4", "--metrics-out", metrics,
                 "--summary-json", summary, env=sim_env(sim))
    assert result.code == 1
    found = gauges(metrics)
    assert found["partoo_bulk_finished"] == 0
    assert "partoo_bulk_last_success_timestamp_seconds" not in found  # none before either
    assert json.loads(summary.read_text())["finished"] is False

    # The resume that sends the rest finishes the job: a success, from then on.
    resumed = cli("run", job, "--yes", "--resume", "--metrics-out", metrics,
                  "--summary-json", summary, env=sim_env(sim))
    assert resumed.code == 0, resumed.err
    found = gauges(metrics)
    assert found["partoo_bulk_finished"] == 1
    last = found["partoo_bulk_last_success_timestamp_seconds"]
    assert last == found["partoo_bulk_last_run_timestamp_seconds"]
    assert json.loads(summary.read_text())["finished"] is True

    # A later canary stop keeps that success's time, and says it did not finish.
    sim.script(1, ["404"])  # a canary row refused: it does not hold
    again = cli("run", job, "--yes", "--overwrite", "--canary", "2", "--metrics-out", metrics,
                env=sim_env(sim))
    assert again.code == 1
    found = gauges(metrics)
    assert found["partoo_bulk_finished"] == 0
    assert found["partoo_bulk_last_success_timestamp_seconds"] == last


def test_a_canary_as_big_as_the_job_that_holds_is_a_finished_run(tmp_path, make_sim, cli):
    sim = make_sim()
    job = closing_job(tmp_path, n=3)
    metrics = tmp_path / "m.prom"
    result = cli("run", job, "--yes", "--canary", "5", "--metrics-out", metrics,
                 env=sim_env(sim))
    assert result.code == 0, result.err
    assert gauges(metrics)["partoo_bulk_finished"] == 1


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["", "sigint-ignored"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                 signal.SIGQUIT], ids=lambda sig: sig.name)
def test_a_stop_during_the_canary_read_back_leaves_summary_metrics_and_resume(
        tmp_path, make_sim, sig, sigint_ignored):
    """Whatever the signal, and with SIGINT inherited as ignored (every `cmd &` of a
    script) too: the held-back rows are not sent."""
    # Two requests' worth of quota: the canary's PATCHes pass, its read-back GETs are
    # answered 429 (Retry-After: 60), so the run sits in the read-back when Ctrl-C comes.
    sim = make_sim(rate_per_minute=1, burst=2)
    job = closing_job(tmp_path)
    report, summary, metrics = (tmp_path / "job.report.csv", tmp_path / "s.json",
                                tmp_path / "m.prom")
    proc = worker([job, "--yes", "--canary", "2", "--summary-json", summary,
                   "--metrics-out", metrics],
                  sim_env(sim, PARTOO_MAX_RETRY_AFTER_S="600"), stdin=subprocess.DEVNULL,
                  sigint_ignored=sigint_ignored)
    deadline = time.monotonic() + 30
    while not any(r.method == "GET" for r in sim.state.log.records):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the read-back never started"
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert out.startswith("12 rows: 2 ok, 0 failed, 0 invalid, 10 skipped")
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 130 and data["stop_kind"] == "interrupted"
    assert data["stop_reason"] == f"run interrupted ({sig.name}) after the canary was sent"
    assert data["finished"] is False
    assert gauges(metrics)["partoo_bulk_exit_code"] == 130
    assert "--resume" in err and str(report) in err
    assert [r["outcome"] for r in read_report(report)] == ["ok"] * 2 + ["skipped"] * 10
    assert sorted(patches(sim)) == [1, 2]


def test_a_canary_of_a_job_from_stdin_sends_the_rest_from_its_pinned_copy(tmp_path,
                                                                           make_sim):
    sim = make_sim()
    job = closing_job(tmp_path)
    report = tmp_path / "piped.report.csv"
    proc = worker(["-", "--report", report, "--yes", "--canary", "2"], sim_env(sim),
                  stdin=subprocess.PIPE)
    out, err = proc.communicate(job.read_text(), timeout=60)
    assert proc.returncode == 0, err
    assert sorted(patches(sim)) == list(range(1, 13))  # each row once
    assert [r["outcome"] for r in read_report(report)] == ["ok"] * 12
    assert out.startswith("12 rows: 12 ok")


def test_no_canary_read_back_starts_after_the_window_and_none_of_the_rest(tmp_path,
                                                                          make_sim):
    # As above, the read-back sits on a 429 (Retry-After: 60) when the window closes.
    sim = make_sim(rate_per_minute=1, burst=2)
    job = closing_job(tmp_path)
    summary = tmp_path / "s.json"
    started = time.monotonic()
    proc = worker([job, "--yes", "--canary", "2", "--finish-by", "+5s", "--summary-json",
                   summary], sim_env(sim, PARTOO_MAX_RETRY_AFTER_S="600"),
                  stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=40)
    closes = started + 5
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    assert "the window closed at" in err and "while its rows were read back" in err
    assert time.monotonic() < closes + 10  # not after the 60 s wait: cut at the window
    assert sorted(patches(sim)) == [1, 2]
    assert any(r.method == "GET" for r in sim.state.log.records)
    assert all(r.at < closes + 0.5 for r in sim.state.log.records)  # none after it
    data = json.loads(summary.read_text())
    assert data["stop_kind"] == "window" and data["finished"] is False
    assert out.startswith("12 rows: 2 ok, 0 failed, 0 invalid, 10 skipped")
