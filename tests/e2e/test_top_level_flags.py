"""A subcommand's flag given before the command (issue 22 §6): argparse alone says only
that COMMAND is missing, or that the flag's value is no command. The message names the
flag meant, the command that has it, and where it goes; nothing starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def partoo_bulk(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    return subprocess.run([sys.executable, "-m", "worker", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("args", "expected"), [
    (["--resume"], "--resume is a flag of `partoo-bulk run`: give it after the command"),
    (["--reprot", "r.csv", "run", "job.csv"],
     "--reprot: did you mean --report? --report is a flag of `partoo-bulk run`"),
    (["--report=r.csv", "run", "job.csv"], "--report is a flag of `partoo-bulk run`"),
    (["-v", "run", "job.csv"], "-v is a flag of `partoo-bulk run`"),
    (["--dry-run", "run", "job.csv"],
     "--dry-run: `partoo-bulk plan JOB` shows what a run would send"),
    (["--frobnicate"], "unrecognized argument: --frobnicate (see partoo-bulk --help)"),
])
def test_a_flag_before_the_command_names_the_command_it_belongs_to(tmp_path, args, expected):
    (tmp_path / "job.csv").write_text("conversation_id,status\n1,closed\n")
    result = partoo_bulk(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert f"partoo-bulk: error: {expected}" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.csv"]


def test_top_level_flags_and_flags_after_the_command_are_untouched(tmp_path):
    assert partoo_bulk("--version", cwd=tmp_path).stdout.startswith("partoo-bulk ")
    # A value that looks like a flag, after the command, is the command's business.
    result = partoo_bulk("plan", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "usage: partoo-bulk plan" in result.stdout
