"""One run per report: a second process on a report in use is refused before it sends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from helpers import read_report, sim_env, start_worker, wait_for_lines, write_job


def second_run(job: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "worker", "run", str(job), "--yes", *args],
                          env=full_env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def patched(sim) -> Counter[int]:
    return Counter(r.conversation_id for r in sim.state.log.records if r.method == "PATCH")


def test_a_second_run_resume_or_overwrite_on_a_report_in_use_is_refused(tmp_path, make_sim):
    sim = make_sim(n_conversations=300)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 201)])
    undo = tmp_path / "job.undo.csv"
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="1200", PARTOO_CONCURRENCY="2")
    first = start_worker(job, env, "--quiet", "--undo-out", str(undo))
    report = tmp_path / "job.report.csv"
    try:
        wait_for_lines(report, 5, first)
        resumed = second_run(job, env, "--resume", "--undo-out", str(undo))
        overwritten = second_run(job, env, "--overwrite", "--undo-out", str(undo))
        # Another report, but the same undo file: its journal is in use too.
        other = second_run(job, env, "--report", str(tmp_path / "other.csv"),
                           "--undo-out", str(undo))
        assert first.poll() is None, "the first run must still be going"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    for refused in (resumed, overwritten):
        assert refused.returncode == 2, refused.stderr
        assert "is in use by another run" in refused.stderr
        assert f"pid {first.pid}, since " in refused.stderr and "nothing was sent" in \
            refused.stderr
        assert "Traceback" not in refused.stderr
    assert other.returncode == 2 and f"--undo-out {undo} is in use" in other.stderr
    assert not (tmp_path / "other.csv").exists()
    # Nothing sent twice but what the kill -9 cut in flight (at most the concurrency).
    assert sum(n - 1 for n in patched(sim).values()) == 0
    assert report.exists() and (tmp_path / "job.undo.csv.journal.csv").exists()

    # The kernel released the dead run's lock: no stale lock to clean up.
    finished = second_run(job, {**env, "PARTOO_RATE_PER_MINUTE": "60000"}, "--resume",
                          "--undo-out", str(undo))
    assert finished.returncode == 0, finished.stderr
    assert [r["outcome"] for r in read_report(report)] == ["ok"] * 200
    assert sum(n - 1 for n in patched(sim).values()) <= 2
    assert (tmp_path / "job.report.csv.lock").exists()  # never deleted, by design
    assert undo.read_text(encoding="utf-8").startswith("conversation_id,status")


def test_two_resumes_at_once_one_runs_and_the_other_is_refused(tmp_path, make_sim):
    sim = make_sim(n_conversations=300)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 161)])
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="60000")
    assert second_run(job, env, "--quiet").returncode == 0
    report = tmp_path / "job.report.csv"
    text = report.read_text(encoding="utf-8").splitlines(keepends=True)
    report.write_text("".join(text[:11]), encoding="utf-8")  # rows 11.. to send again
    slow = {**env, "PARTOO_RATE_PER_MINUTE": "1200", "PARTOO_CONCURRENCY": "1"}
    first = start_worker(job, slow, "--quiet", "--resume")
    try:
        wait_for_lines(tmp_path / "job.report.csv.partial", 14, first)
        second = second_run(job, slow, "--resume")
    finally:
        _out, err = first.communicate(timeout=60)
    assert second.returncode == 2 and "in use by another run" in second.stderr
    assert "internal error" not in second.stderr
    assert first.returncode == 0, err
    assert [r["outcome"] for r in read_report(report)] == ["ok"] * 160
    assert max(patched(sim).values()) == 2  # the first run, then one resume: not two
