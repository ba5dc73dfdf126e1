"""The files a run writes: whole and fsynced, one job-file format, never through a link,
never the same file twice, and one lock per report for the whole run (canary included)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import read_report, sim_env, write_job
from worker.files.runfiles import RunFiles
from worker.report import lock

CLI = [sys.executable, "-m", "worker"]


def patches(sim) -> list[int]:
    return [r.conversation_id for r in sim.state.log.records if r.method == "PATCH"]


def closing_job(folder: Path, n: int = 4, name: str = "job.csv") -> Path:
    return write_job(folder / name, [(str(i), "closed", "") for i in range(1, n + 1)])


def subprocess_env(sim) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    env.update(sim_env(sim))
    return env


def on_a_terminal(args: list[str], env: dict[str, str], answers: list[str], out_file: Path,
                  before_answer: dict[int, Callable[[], None]]) -> tuple[int, str]:
    """The worker on a real pseudo-terminal, stdout to a file; `before_answer[i]` runs
    while it waits at its i-th question (from 0), before the answer is typed."""
    command = " ".join([sys.executable, "-m", "worker", *args]) + f" > {out_file}"
    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is its terminal
        os.execvpe("sh", ["sh", "-c", command], env)
    seen, asked = b"", 0
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal: it has exited
            break
        if not chunk:
            break
        seen += chunk
        if asked < len(answers) and seen.rstrip().endswith(b"[y/N]"):
            if asked in before_answer:
                before_answer[asked]()
            os.write(master, answers[asked].encode() + b"\n")
            asked += 1
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


# --- one writer of job files --------------------------------------------------------------

def test_the_undo_job_is_on_disk_before_it_has_its_name(tmp_path, make_sim, cli,
                                                        monkeypatch):
    sim = make_sim()
    job, undo = closing_job(tmp_path), tmp_path / "undo.csv"
    synced: list[bytes] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        real_fsync(fd)
        try:  # what this descriptor's file holds, as it was made durable
            synced.append(Path(f"/proc/self/fd/{fd}").read_bytes())
        except OSError:
            pass  # a folder

    monkeypatch.setattr(os, "fsync", recording_fsync)
    result = cli("run", job, "--yes", "--undo-out", undo, env=sim_env(sim))
    assert result.code == 0, result.err
    assert undo.read_bytes() in synced
    assert read_report(undo)  # conversations 2..4 were open: put back


def test_every_job_file_partoo_bulk_writes_has_one_line_ending(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("99999", "closed", ""),
                                           ("2", "closed", "")])
    undo, failed, selected = tmp_path / "undo.csv", tmp_path / "retry.csv", tmp_path / "s.csv"
    assert cli("run", job, "--yes", "--undo-out", undo, env=sim_env(sim)).code == 1
    report = tmp_path / "job.report.csv"
    assert cli("report", report, "--failed", failed).code == 0
    assert cli("select", "--unsolved", "--action", "close", "--out", selected,
               env=sim_env(sim)).code == 0
    for path in (undo, failed, selected):
        data = path.read_bytes()
        assert b"\r\n" not in data and data.count(b"\n") >= 2, path
    assert [r["conversation_id"] for r in read_report(failed)] == ["99999"]


def test_failed_rows_on_stdout_are_the_same_bytes_as_in_a_file(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("99999", "closed", "")])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 1
    report, failed = tmp_path / "job.report.csv", tmp_path / "retry.csv"
    assert cli("report", report, "--failed", failed).code == 0
    on_stdout = cli("report", report, "--failed", "-")
    assert on_stdout.code == 0 and on_stdout.out == failed.read_text()


# --- every file of a run is its own -------------------------------------------------------

@pytest.mark.parametrize("side", ["r.csv.meta.tmp", "r.csv.job.csv.tmp", "r.csv.ahead.tmp",
                                  "r.csv.lock", "r.csv.tmp"])
def test_no_output_may_be_a_temporary_or_lock_file_of_the_report(tmp_path, make_sim, cli,
                                                                 side):
    sim = make_sim()
    job = closing_job(tmp_path)
    result = cli("run", job, "--yes", "--report", tmp_path / "r.csv", "--undo-out",
                 tmp_path / side, env=sim_env(sim))
    assert result.code == 2 and "same file" in result.err
    assert patches(sim) == [] and not (tmp_path / "r.csv").exists()


def test_metrics_out_may_not_be_another_output_or_the_job(tmp_path, make_sim, cli):
    sim = make_sim()
    job = closing_job(tmp_path, name="job.prom")
    before = job.read_bytes()
    result = cli("run", job, "--yes", "--report", tmp_path / "r.csv", "--metrics-out", job,
                 env=sim_env(sim))
    assert result.code == 2 and job.read_bytes() == before
    m = tmp_path / "m.prom"
    result = cli("run", job, "--yes", "--report", tmp_path / "r.csv", "--summary-json", m,
                 "--metrics-out", m, env=sim_env(sim))
    assert result.code == 2 and not m.exists()
    assert patches(sim) == []


def test_a_refused_metrics_path_is_not_written(tmp_path, make_sim, cli):
    sim = make_sim()
    job = closing_job(tmp_path)
    summary = tmp_path / "s.json"
    result = cli("run", job, "--yes", "--metrics-out", tmp_path / "m.txt", "--summary-json",
                 summary, env=sim_env(sim))
    assert result.code == 2 and "*.prom" in result.err
    assert not (tmp_path / "m.txt").exists() and not (tmp_path / "m.txt.tmp").exists()
    assert '"exit_code": 2' in summary.read_text()  # the other output still says why
    assert patches(sim) == []


# --- links ----------------------------------------------------------------------------------

@pytest.mark.parametrize("side", ["r.csv.lock", "r.csv.job.csv.tmp", "r.csv.meta.tmp",
                                  "r.csv.meta.json", "r.csv.ahead"])
def test_a_link_planted_beside_the_report_is_refused_and_its_target_untouched(tmp_path,
                                                                              make_sim, cli,
                                                                              side):
    sim = make_sim()
    job = closing_job(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.chmod(victim, 0o644)
    (tmp_path / side).symlink_to(victim)
    result = cli("run", job, "--yes", "--report", tmp_path / "r.csv", env=sim_env(sim))
    assert result.code == 2 and "symbolic link" in result.err and side in result.err
    assert victim.read_text() == "precious\n" and victim.stat().st_mode & 0o777 == 0o644
    assert patches(sim) == []


def test_a_report_given_as_a_link_is_locked_as_the_file_it_points_to(tmp_path, make_sim):
    sim = make_sim()
    job = closing_job(tmp_path)
    real = tmp_path / "real.csv"
    real.write_text("")
    (tmp_path / "link.csv").symlink_to(real)
    with lock.hold(RunFiles.of(real)):  # another run, on real.csv
        second = subprocess.run([*CLI, "run", str(job), "--report", "link.csv", "--overwrite",
                                 "--yes"], cwd=tmp_path, env=subprocess_env(sim),
                                capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and "in use by another run" in second.stderr
    assert patches(sim) == []


# --- one lock for the whole run -----------------------------------------------------------

def test_a_canary_keeps_its_lock_while_it_asks_about_the_rest(tmp_path, make_sim):
    sim = make_sim()
    job = closing_job(tmp_path, 6)
    report = tmp_path / "job.report.csv"
    seconds: list[subprocess.CompletedProcess[str]] = []

    def meanwhile() -> None:  # at the "send the other 4 rows?" prompt: another run
        seconds.append(subprocess.run(
            [*CLI, "run", str(job), "--report", str(report), "--resume", "--yes"],
            env=subprocess_env(sim), capture_output=True, text=True, timeout=60))

    code, terminal = on_a_terminal(["run", str(job), "--quiet", "--canary", "2"],
                                   subprocess_env(sim), ["y", "n"], tmp_path / "out.txt",
                                   before_answer={1: meanwhile})
    assert code == 1, terminal
    assert seconds[0].returncode == 2 and "in use by another run" in seconds[0].stderr
    assert sorted(patches(sim)) == [1, 2]  # the held-back rows were not sent by anyone
    assert [r["outcome"] for r in read_report(report)][2:] == ["skipped"] * 4


# --- a closed stderr ------------------------------------------------------------------------

def test_with_stderr_closed_a_run_overwrites_and_finishes(tmp_path, make_sim):
    sim = make_sim()
    closing_job(tmp_path, 3)
    report = tmp_path / "job.report.csv"
    report.write_text("an earlier report\n")
    refused = subprocess.run(["sh", "-c", f"exec {sys.executable} -m worker run job.csv "
                              "--overwrite 2>&-"], cwd=tmp_path, env=subprocess_env(sim),
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and refused.stdout == ""  # no terminal, no --yes
    assert report.read_text() == "an earlier report\n"
    done = subprocess.run(["sh", "-c", f"exec {sys.executable} -m worker run job.csv "
                           "--overwrite --yes 2>&-"], cwd=tmp_path, env=subprocess_env(sim),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
    assert [r["outcome"] for r in read_report(report)] == ["ok"] * 3
    assert done.stdout.startswith("3 rows: 3 ok")


def test_every_file_a_run_leaves_is_one_runfiles_names(tmp_path, make_sim, cli):
    sim = make_sim()
    job = closing_job(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    report, undo = out / "r.csv", out / "undo.csv"
    summary, metrics = out / "s.json", out / "m.prom"
    assert cli("run", job, "--yes", "--report", report, "--undo-out", undo, "--summary-json",
               summary, "--metrics-out", metrics, env=sim_env(sim)).code == 0
    named = {f.path for f in RunFiles.of(report, undo, summary, metrics).all()}
    left = set(out.iterdir())
    assert left <= named, left - named
    assert {report, undo, summary, metrics} <= left
