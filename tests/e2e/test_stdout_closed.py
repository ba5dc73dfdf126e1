"""stdout that cannot be written (a pipe whose reader left, a full disk): a run still writes
every file it owes and exits with its own code; other commands exit 141 quietly, as a Unix
tool killed by SIGPIPE does. Never "internal error", never "a bug"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import sim_env, write_job

EXIT_STDOUT_LOST = 141


def closing_job(folder: Path, n: int = 8) -> Path:
    return write_job(folder / "job.csv", [(str(i), "closed", "") for i in range(1, n + 1)])


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    env.update(extra or {})
    return env


def closed_pipe_run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """`partoo-bulk ARGS | head -c 0`: stdout's reader is gone before anything is written."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "worker", *args], env=env,
                              stdout=write, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
    finally:
        os.close(write)
    return proc.returncode, proc.stderr


def to_dev_full(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "worker", *args], env=env, stdout=full,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                              timeout=120)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("stdout", [closed_pipe_run, to_dev_full], ids=["closed_pipe",
                                                                       "dev_full"])
def test_a_good_run_with_no_stdout_writes_every_file_and_keeps_its_exit_code(
        tmp_path, make_sim, stdout):
    sim = make_sim()
    job = closing_job(tmp_path)
    undo, summary, metrics = tmp_path / "undo.csv", tmp_path / "s.json", tmp_path / "m.prom"
    code, err = stdout(["run", str(job), "--yes", "--undo-out", str(undo), "--summary-json",
                        str(summary), "--metrics-out", str(metrics)],
                       environment(sim_env(sim)))
    assert code == 0, err
    assert "internal error" not in err and "bug" not in err and "Traceback" not in err
    assert undo.read_text().startswith("conversation_id,status")  # the undo job is there
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 0 and data["outcomes"]["ok"] == 8
    assert "partoo_bulk_finished" in metrics.read_text()
    if stdout is closed_pipe_run:
        assert err == ""  # a reader that left is no news
    else:
        assert "could not write to stdout" in err


@pytest.mark.parametrize("command", ["report", "plan"])
def test_report_and_plan_into_a_closed_pipe_exit_141_quietly(tmp_path, make_sim, command):
    sim = make_sim()
    job = closing_job(tmp_path, n=200)
    subprocess.run([sys.executable, "-m", "worker", "run", str(job), "--yes", "--quiet"],
                   env=environment(sim_env(sim)), check=True, capture_output=True)
    target = job if command == "plan" else tmp_path / "job.report.csv"
    code, err = closed_pipe_run([command, str(target)], environment())
    assert code == EXIT_STDOUT_LOST
    assert err == ""


def test_json_into_a_full_disk_says_so_and_exits_141(tmp_path):
    job = closing_job(tmp_path)
    code, err = to_dev_full(["plan", str(job), "--json"], environment())
    assert code == EXIT_STDOUT_LOST
    assert "could not write to stdout (No space left on device)" in err
    assert "bug" not in err
