"""A run refused before its first request leaves the folder as it found it: no job's copy,
no lock file, and an earlier run's side files byte for byte. A run that started keeps
them, as a resume needs (kill -9 included)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ask_on_a_terminal, read_report, sim_env, wait_for_lines, write_job
from worker.files.runfiles import RunFiles
from worker.report import lock

CLI = [sys.executable, "-m", "worker"]
JOB = "conversation_id,status\n1,closed\n2,closed\n3,closed\n"


def listing(folder: Path) -> dict[str, bytes]:
    """Every file in `folder`, by name, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def patches(sim) -> list[int]:
    return [r.conversation_id for r in sim.state.log.records if r.method == "PATCH"]


def subprocess_env(sim) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    env.update(sim_env(sim))
    return env


def run_with_stdin(args: list[str], data: str, sim, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "run", *args, "--yes"], input=data, env=subprocess_env(sim),
                          capture_output=True, text=True, timeout=60, cwd=cwd)


# Each: the job's bytes, the flags, the settings changed, what the message says.
REFUSALS = {
    "no action column": (b"conversation_id,action\n1,close\n", [], {}, "no action column"),
    "a column twice": (b"conversation_id,status,status\n1,closed,closed\n", [], {},
                       "more than once"),
    "a bad byte": (b"conversation_id,status\n1,closed\n2,clos\xffed\n", [], {}, "UTF-8"),
    "an empty job": (b"", [], {}, "empty"),
    "an invalid row with --strict": (b"conversation_id,status\n1,closed\nx,closed\n",
                                     ["--strict"], {}, "--strict"),
    "no key": (JOB.encode(), [], {"PARTOO_API_KEY": ""}, "PARTOO_API_KEY"),
    "a bad setting": (JOB.encode(), [], {"PARTOO_RATE_PER_MINUTE": "-5"}, "rate"),
    "nothing listening": (JOB.encode(), [], {"PARTOO_BASE_URL": "http://127.0.0.1:9/v2"},
                          "connection refused"),
    "a canary of a bad job": (b"conversation_id,action\n1,close\n", ["--canary", "1"], {},
                              "no action column"),
    "a canary nobody can reach": (JOB.encode(), ["--canary", "1"],
                                  {"PARTOO_BASE_URL": "http://127.0.0.1:9/v2"},
                                  "connection refused"),
    "an undo file for a bad job": (b"conversation_id,action\n1,close\n",
                                   ["--undo-out", "undo.csv"], {}, "no action column"),
}


@pytest.mark.parametrize("cause", REFUSALS)
def test_a_run_refused_before_its_first_request_leaves_no_file(tmp_path, make_sim, cli,
                                                              monkeypatch, cause):
    data, flags, settings, said = REFUSALS[cause]
    sim = make_sim()
    (tmp_path / "job.csv").write_bytes(data)
    monkeypatch.chdir(tmp_path)  # --undo-out undo.csv: beside the report
    before = listing(tmp_path)
    env = {k: v for k, v in sim_env(sim, **settings).items() if v}
    result = cli("run", tmp_path / "job.csv", "--report", tmp_path / "R.csv", "--yes",
                 *flags, env=env)
    assert result.code == 2 and said in result.err and "Traceback" not in result.err
    assert listing(tmp_path) == before
    assert patches(sim) == []


def test_a_no_at_the_question_leaves_no_file(tmp_path, make_sim):
    sim = make_sim()
    work = tmp_path / "work"
    work.mkdir()
    job = write_job(work / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    before = listing(work)
    code, terminal = ask_on_a_terminal(["run", str(job), "--undo-out", str(work / "u.csv")],
                                       sim_env(sim), ["n"], tmp_path / "out.txt")
    assert code == 2 and "cancelled: nothing was sent" in terminal
    assert listing(work) == before and patches(sim) == []


def test_a_refused_run_leaves_an_earlier_report_and_its_side_files_byte_for_byte(
        tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    undo = tmp_path / "undo.csv"
    assert cli("run", job, "--yes", "--undo-out", undo, env=sim_env(sim)).code == 0
    other = write_job(tmp_path / "other.csv", [("3", "closed", "")])
    before = listing(tmp_path)
    assert {"job.report.csv.job.csv", "job.report.csv.lock", "undo.csv.lock"} <= set(before)

    again = cli("run", other, "--yes", "--report", tmp_path / "job.report.csv",
                "--undo-out", undo, env=sim_env(sim))

    assert again.code == 2 and "a report is already there" in again.err
    assert listing(tmp_path) == before and patches(sim) == [1, 2]


def test_an_undo_file_already_there_is_refused_with_no_lock_beside_it(tmp_path, make_sim,
                                                                      cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    (tmp_path / "u.csv").write_text("conversation_id,status\n1,open\n")  # select's, say
    before = listing(tmp_path)
    result = cli("run", job, "--yes", "--undo-out", tmp_path / "u.csv", env=sim_env(sim))
    assert result.code == 2 and "an undo file is already there" in result.err
    assert listing(tmp_path) == before and patches(sim) == []


def test_a_resume_refused_keeps_the_earlier_runs_side_files_byte_for_byte(tmp_path,
                                                                           make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    assert cli("run", job, "--yes", "--canary", "1", "--undo-out", tmp_path / "u.csv",
               env=sim_env(sim, PARTOO_API_KEY="revoked")).code == 3  # 401: stopped
    job.write_text(job.read_text() + "3,closed,\n")  # the job changed since
    before = listing(tmp_path)
    copy_inode = (tmp_path / "job.report.csv.job.csv").stat().st_ino

    resumed = cli("run", job, "--yes", "--resume", "--undo-out", tmp_path / "u.csv",
                  env=sim_env(sim))

    assert resumed.code == 2 and "another job file" in resumed.err
    assert listing(tmp_path) == before
    assert (tmp_path / "job.report.csv.job.csv").stat().st_ino == copy_inode


def test_a_second_job_from_stdin_refused_keeps_the_first_ones_only_copy(tmp_path, make_sim):
    sim = make_sim()
    report = tmp_path / "r.csv"
    assert run_with_stdin(["-", "--report", str(report)], JOB, sim, tmp_path).returncode == 0
    before = listing(tmp_path)

    fresh = run_with_stdin(["-", "--report", str(report)], "conversation_id,status\n9,open\n",
                           sim, tmp_path)
    resumed = run_with_stdin(["-", "--report", str(report), "--resume"], JOB + "4,closed\n",
                             sim, tmp_path)

    assert fresh.returncode == 2 and "a report is already there" in fresh.stderr
    assert resumed.returncode == 2 and "another job file" in resumed.stderr
    assert listing(tmp_path) == before  # r.csv.job.csv: still the first job, for --resume
    assert sorted(patches(sim)) == [1, 2, 3]


def test_a_run_refused_by_a_live_holder_leaves_its_lock_file_locked(tmp_path, make_sim):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    files = RunFiles.of(tmp_path / "job.report.csv")
    with lock.hold(files):  # another run, which made the lock file and is sending
        before = listing(tmp_path)
        second = subprocess.run([*CLI, "run", str(job), "--yes"], env=subprocess_env(sim),
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "in use by another run" in second.stderr
        assert listing(tmp_path) == before
        third = subprocess.run([*CLI, "run", str(job), "--yes"], env=subprocess_env(sim),
                               capture_output=True, text=True, timeout=60)
        assert third.returncode == 2 and "in use by another run" in third.stderr
    assert patches(sim) == []


def test_a_run_that_started_keeps_its_side_files(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    result = cli("run", job, "--yes", "--undo-out", tmp_path / "u.csv", env=sim_env(sim))
    assert result.code == 0
    names = set(listing(tmp_path))
    assert {"job.report.csv", "job.report.csv.meta.json", "job.report.csv.job.csv",
            "job.report.csv.lock", "u.csv", "u.csv.lock"} <= names


def test_a_stdin_job_killed_mid_run_leaves_what_its_resume_needs(tmp_path, make_sim):
    sim = make_sim(n_conversations=400)
    report = tmp_path / "r.csv"
    job = "conversation_id,status\n" + "".join(f"{i},closed\n" for i in range(1, 401))
    env = subprocess_env(sim) | {"PARTOO_RATE_PER_MINUTE": "3000"}
    proc = subprocess.Popen([*CLI, "run", "-", "--report", str(report), "--yes", "--quiet"],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    proc.stdin.write(job)
    proc.stdin.close()
    wait_for_lines(report, 50, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    copy = tmp_path / "r.csv.job.csv"
    assert copy.read_text(encoding="utf-8") == job
    assert (tmp_path / "r.csv.lock").exists()
    assert json.loads((tmp_path / "r.csv.meta.json").read_text())["job_path"] == str(copy)
    resumed = subprocess.run([*CLI, "run", str(copy), "--report", str(report), "--resume",
                              "--yes", "--quiet"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert [int(r["row"]) for r in read_report(report)] == list(range(1, 401))
