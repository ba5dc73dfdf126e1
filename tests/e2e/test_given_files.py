"""Nothing a run is given is destroyed: outputs are never the job or each other, the job
sent is the job planned, and a job read from a pipe is read once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import read_report, sim_env, start_worker, wait_for_lines, write_job

JOB = "conversation_id,status\n1,closed\n2,closed\n3,closed\n"


def patches(sim) -> list[int]:
    return [r.conversation_id for r in sim.state.log.records if r.method == "PATCH"]


@pytest.mark.parametrize("flags", [
    ["--report", "{job}", "--overwrite"],
    ["--report", "{d}/r.csv", "--undo-out", "{d}/r.csv"],
    ["--summary-json", "{job}"],
    ["--report", "{d}/r.csv", "--summary-json", "{d}/r.csv.meta.json"],
    ["--report", "{d}/r.csv", "--undo-out", "{d}/r.csv.partial"],
    ["--undo-out", "{job}.journal.csv", "--report", "{d}/other.csv"],
    ["--report", "{d}/link.csv", "--overwrite"],  # a hard link to the job
    ["--report", "{d}/symlink.csv", "--overwrite"],  # a symlink to the job
], ids=["report is the job", "undo is the report", "summary is the job",
        "summary is the report's meta", "undo is the partial report",
        "the job is the undo journal", "report is a hard link to the job",
        "report is a symlink to the job"])
def test_an_output_that_is_the_job_or_another_output_is_refused_before_anything(
        tmp_path, make_sim, cli, flags):
    sim = make_sim()
    job = tmp_path / "job.csv"
    job.write_text(JOB, encoding="utf-8")
    os.link(job, tmp_path / "link.csv")
    (tmp_path / "symlink.csv").symlink_to(job)
    if "{job}.journal.csv" in flags:  # the job is named like the undo journal would be
        job = job.rename(tmp_path / "u.csv.journal.csv")
        flags = [f.replace("{job}.journal.csv", str(tmp_path / "u.csv")) for f in flags]
    args = [f.format(job=job, d=tmp_path) for f in flags]
    before = sorted(p.name for p in tmp_path.iterdir())

    result = cli("run", job, "--yes", *args, env=sim_env(sim))

    assert result.code == 2, result.err
    assert "is the same file as" in result.err and "Nothing was touched" in result.err
    assert job.read_text(encoding="utf-8") == JOB
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert sim.state.log.stats()["requests"] == 0


def test_the_job_sent_is_the_job_planned_when_the_file_changes_during_the_run(
        tmp_path, make_sim):
    sim = make_sim(n_conversations=300)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 61)])
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="1200", PARTOO_CONCURRENCY="1")
    proc = start_worker(job, env, "--quiet")
    wait_for_lines(tmp_path / "job.report.csv", 4, proc)
    with open(job, "r+", encoding="utf-8") as f:  # in place: the same inode
        f.write("conversation_id,status\n" + "".join(f"{200 + i},open\n" for i in range(80)))
    with open(job, "a", encoding="utf-8") as f:
        f.write("250,open\n")
    _out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err
    assert sorted(patches(sim)) == list(range(1, 61))  # no row of the other file
    assert [r["conversation_id"] for r in read_report(tmp_path / "job.report.csv")] == \
        [str(i) for i in range(1, 61)]
    # --resume knows the job changed, and says so rather than mixing the two.
    again = subprocess.run([sys.executable, "-m", "worker", "run", str(job), "--yes",
                            "--resume"], env={**os.environ, **env}, capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 2 and "the job file changed" in again.stderr


def run_with_stdin(args: list[str], data: str, env: dict[str, str], cwd: Path):
    full = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    return subprocess.run([sys.executable, "-m", "worker", "run", *args, "--yes"],
                          input=data, env={**full, **env}, capture_output=True, text=True,
                          timeout=60, cwd=cwd)


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_a_job_read_from_stdin_is_read_once_and_kept_for_resume(tmp_path, make_sim, name):
    sim = make_sim()
    report = tmp_path / "r.csv"
    env = sim_env(sim)

    result = run_with_stdin([name, "--report", str(report)], JOB, env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert sorted(patches(sim)) == [1, 2, 3]
    copy = tmp_path / "r.csv.job.csv"
    assert copy.read_text(encoding="utf-8") == JOB
    meta = json.loads((tmp_path / "r.csv.meta.json").read_text(encoding="utf-8"))
    assert meta["job_path"] == str(copy)  # what `report` names in its next steps
    resumed = run_with_stdin([str(copy), "--report", str(report), "--resume"], "", env,
                             tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(patches(sim)) == [1, 2, 3]  # kept, not sent again
    assert copy.read_text(encoding="utf-8") == JOB


def test_a_job_from_a_fifo_is_read_once(tmp_path, make_sim):
    sim = make_sim()
    fifo = tmp_path / "job.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w", encoding="utf-8") as f:
            f.write(JOB)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = run_with_stdin([str(fifo), "--report", str(tmp_path / "r.csv")], "",
                            sim_env(sim), tmp_path)
    writer.join(5)
    assert result.returncode == 0, result.stderr
    assert "no 'conversation_id' column" not in result.stderr
    assert sorted(patches(sim)) == [1, 2, 3]


def test_a_job_from_a_pipe_without_report_is_refused_with_what_to_do(tmp_path, make_sim,
                                                                     cli):
    sim = make_sim()
    result = cli("run", "-", "--yes", env=sim_env(sim))
    assert result.code == 2
    assert "needs --report PATH" in result.err
    assert sim.state.log.stats()["requests"] == 0


def test_resuming_a_stdin_job_with_other_bytes_keeps_its_copy(tmp_path, make_sim):
    sim = make_sim()
    report = tmp_path / "r.csv"
    env = sim_env(sim)
    assert run_with_stdin(["-", "--report", str(report)], JOB, env, tmp_path).returncode == 0
    other = run_with_stdin(["-", "--report", str(report), "--resume"],
                           JOB + "4,closed\n", env, tmp_path)
    assert other.returncode == 2 and "another job file" in other.stderr
    assert (tmp_path / "r.csv.job.csv").read_text(encoding="utf-8") == JOB
    assert sorted(patches(sim)) == [1, 2, 3]
