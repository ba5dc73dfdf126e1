"""A command line that forgives and never guesses (issue 22 §6): no abbreviations, the flag
meant named for a typo, and a key given as a flag never printed, in text or JSON logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import write_job

KEY = "sk-live-0123456789abcdef-DO-NOT-LEAK"


def partoo_bulk(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    return subprocess.run([sys.executable, "-m", "worker", *map(str, args)], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def job(tmp_path):
    return write_job(tmp_path / "job.csv", [("1", "closed", "")])


@pytest.mark.parametrize(("args", "meant"), [
    (["--rate", "100"], "--rate-per-minute"),
    (["--resum"], "--resume"),
    (["--concurr", "4"], "--concurrency"),
])
def test_abbreviated_flags_are_refused_naming_the_whole_flag(tmp_path, job, args, meant):
    result = partoo_bulk("run", job, "--yes", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr
    assert f"did you mean {meant}?" in result.stderr
    assert not (tmp_path / "job.report.csv").exists()


def test_a_mistyped_flag_names_the_subcommands_flag(tmp_path, job):
    result = partoo_bulk("run", job, "--reprot", "r.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert "partoo-bulk run: error" in result.stderr
    assert "did you mean --report?" in result.stderr


def test_a_dry_run_flag_points_to_plan(tmp_path, job):
    result = partoo_bulk("run", job, "--dry-run", cwd=tmp_path)
    assert result.returncode == 2 and "partoo-bulk plan JOB" in result.stderr


def test_a_flag_of_another_subcommand_says_whose_it_is(tmp_path, job):
    result = partoo_bulk("plan", job, "--yes", cwd=tmp_path)
    assert result.returncode == 2
    assert "--yes is a flag of `partoo-bulk run`" in result.stderr


@pytest.mark.parametrize("args", [
    ["run", "JOB", "--yes", "--api-key", KEY],
    ["run", "JOB", "--yes", f"--api-key={KEY}"],
    ["run", "JOB", "--key", KEY, "--yes"],
    ["run", "--token", KEY],
    ["--apikey", KEY, "run", "JOB"],
    ["plan", "JOB", "--API_KEY", KEY],
])
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_key_given_as_a_flag_is_never_printed(tmp_path, job, args, log_format):
    args = [str(job) if a == "JOB" else a for a in args]
    if log_format == "json":
        args += ["--log-format", "json"]
    result = partoo_bulk(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert KEY not in result.stderr and KEY not in result.stdout
    assert KEY[:12] not in result.stderr
    assert "PARTOO_API_KEY" in result.stderr and "PARTOO_API_KEY_FILE" in result.stderr
    if log_format == "json":
        (line,) = result.stderr.splitlines()
        record = json.loads(line)
        assert record["event"] == "usage_error" and record["exit_code"] == 2
    assert not (tmp_path / "job.report.csv").exists()
