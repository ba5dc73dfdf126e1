"""Paths that name folders, not files (`""`, `.`, `/`, `out/`), and a closed stdin: each a
clear message and exit 2, never "internal error ... This is a bug"."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import sim_env, write_job


@pytest.fixture
def usage(cli, capsys):
    """The CLI in-process, where a usage error is argparse's SystemExit(2)."""

    def run(*args, env=None):
        try:
            return cli(*args, env=env)
        except SystemExit as exc:
            captured = capsys.readouterr()
            return type("Run", (), {"code": exc.code, "out": captured.out,
                                    "err": captured.err})
    return run


@pytest.fixture
def job(tmp_path):
    return write_job(tmp_path / "job.csv", [("1", "closed", "")])


FOLDERS = ["", ".", "/", "out/", "..", "sub/."]


@pytest.mark.parametrize("path", FOLDERS)
@pytest.mark.parametrize("flag", ["--report", "--undo-out", "--summary-json",
                                  "--metrics-out"])
def test_run_refuses_an_output_that_names_a_folder(usage, make_sim, job, tmp_path, flag, path,
                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    sim = make_sim()
    result = usage("run", job, "--yes", flag, path, env=sim_env(sim))
    assert result.code == 2, result.err
    assert "bug" not in result.err and "internal error" not in result.err
    assert flag in result.err
    assert not sim.state.log.records  # nothing sent
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("path", ["", ".", "jobs/"])
def test_run_refuses_a_job_that_names_a_folder(usage, make_sim, path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = usage("run", path, "--yes", env=sim_env(make_sim()))
    assert result.code == 2
    assert "JOB" in result.err and "bug" not in result.err


@pytest.mark.parametrize(("command", "args"), [
    ("select", ["--action", "close", "--out", "{p}"]),
    ("select", ["--action", "close", "--out", "o.csv", "--undo-out", "{p}"]),
    ("report", ["{job}", "--failed", "{p}"]),
    ("demo", ["--report", "{p}"]),
])
@pytest.mark.parametrize("path", ["", "/", "out/"])
def test_other_commands_refuse_an_output_that_names_a_folder(usage, job, command, args, path):
    result = usage(command, *[a.format(p=path, job=job) for a in args])
    assert result.code == 2
    assert "names a folder" in result.err or "is empty" in result.err
    assert "bug" not in result.err


@pytest.mark.parametrize("args", [["run", "-", "--report", "r.csv", "--yes"], ["plan", "-"]])
def test_a_closed_stdin_is_a_clear_error(tmp_path, make_sim, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    env.update(sim_env(make_sim()))
    proc = subprocess.run([sys.executable, "-m", "worker", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: os.close(0))  # `<&-`
    assert proc.returncode == 2, proc.stderr
    assert "stdin is closed" in proc.stderr
    assert "bug" not in proc.stderr


def special_paths(folder):
    fifo = folder / "pipe"
    os.mkfifo(fifo)
    (folder / "dir.prom").mkdir()
    return {"fifo": fifo, "folder": folder / "dir.prom"}


@pytest.mark.parametrize("kind", ["fifo", "folder"])
@pytest.mark.parametrize("flag", ["--summary-json", "--metrics-out"])
def test_run_refuses_a_summary_or_metrics_path_that_is_no_regular_file_before_sending(
        usage, make_sim, job, tmp_path, flag, kind):
    # Renamed over, /dev/null itself would become a regular file (as root).
    path = special_paths(tmp_path)[kind]
    if flag == "--metrics-out" and kind == "fifo":
        path = path.rename(tmp_path / "pipe.prom")
    sim = make_sim()
    result = usage("run", job, "--yes", flag, path, env=sim_env(sim))
    assert result.code == 2
    assert "not a regular file" in result.err
    assert not sim.state.log.records
    assert path.is_fifo() if kind == "fifo" else path.is_dir()


@pytest.mark.parametrize("args", [["select", "--action", "close", "--overwrite", "--out"],
                                  ["select", "--action", "close", "--overwrite", "--out",
                                   "o.csv", "--undo-out"],
                                  ["report", "{report}", "--overwrite", "--failed"]])
def test_other_outputs_are_never_renamed_over_a_fifo(usage, make_sim, job, tmp_path, args):
    sim = make_sim()
    assert usage("run", job, "--yes", env=sim_env(sim)).code == 0
    fifo = special_paths(tmp_path)["fifo"]
    result = usage(*[a.format(report=tmp_path / "job.report.csv") for a in args], fifo,
                   env=sim_env(sim))
    assert result.code == 2
    assert "not a regular file" in result.err
    assert fifo.is_fifo()
