"""Under `--json`, stdout holds one JSON document on every way out: a usage error
included (an unknown flag, a bad value, a missing argument, an abbreviated --json)."""

from __future__ import annotations

import json

import pytest

from helpers import write_job


@pytest.fixture
def usage(cli, capsys):
    """The CLI in-process, where a usage error is argparse's SystemExit(2)."""

    def run(*args):
        try:
            return cli(*args)
        except SystemExit as exc:
            captured = capsys.readouterr()
            return type("Run", (), {"code": exc.code, "out": captured.out,
                                    "err": captured.err})
    return run


@pytest.fixture
def job(tmp_path):
    return write_job(tmp_path / "job.csv", [("1", "closed", "")])


@pytest.mark.parametrize(("command", "args"), [
    ("plan", ["{job}", "--json", "--bogus"]),
    ("plan", ["{job}", "--jso", "--rate-per-minute", "lots"]),
    ("select", ["--json", "--stale-days", "x", "--out", "o.csv", "--action", "close"]),
    ("select", ["--json", "--out", "o.csv"]),  # no action
    ("report", ["--json"]),  # no report
    ("report", ["{job}", "--json", "--top", "0"]),
    ("verify", ["--json", "{job}", "--sample", "many"]),
])
def test_a_usage_error_under_json_prints_its_document(usage, job, command, args):
    result = usage(command, *[a.format(job=job) for a in args])
    assert result.code == 2
    doc = json.loads(result.out)
    assert doc["command"] == command and doc["exit_code"] == 2
    assert doc["schema_version"] == 1 and doc["error"]
    assert "usage:" in result.err  # the person at a terminal still gets argparse's help


def test_without_json_a_usage_error_leaves_stdout_empty(usage, job):
    result = usage("plan", job, "--bogus")
    assert result.code == 2 and result.out == ""


def test_json_given_to_another_command_is_not_taken_for_the_commands_own(usage, job):
    # `run` has no --json: a usage error of its own prints no document.
    result = usage("run", job, "--json")
    assert result.code == 2 and result.out == ""
