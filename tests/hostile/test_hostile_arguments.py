"""Arguments a careless or hostile operator gives, found by trying them on every command:
each a clear message and exit 2, never "internal error ... This is a bug"."""

from __future__ import annotations

from helpers import SECRET, sim_env, write_job


def test_a_stale_days_beyond_the_calendar_is_a_clear_error(cli, make_sim, tmp_path):
    result = cli("select", "--out", tmp_path / "o.csv", "--action", "close",
                 "--stale-days", "99999999999", env=sim_env(make_sim()))
    assert result.code == 2
    assert "--stale-days 99999999999" in result.err and "bug" not in result.err


def test_a_base_url_with_an_unclosed_ipv6_bracket_is_a_settings_error(cli, tmp_path):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    for command in (["run", job, "--yes"], ["select", "--out", tmp_path / "o.csv",
                                            "--action", "close"]):
        result = cli(*command, env={"PARTOO_API_KEY": SECRET,
                                    "PARTOO_BASE_URL": "http://user:pw@[::1"})
        assert result.code == 2
        assert "base_url" in result.err and "IPv6" in result.err
        assert "bug" not in result.err and "pw" not in result.err


def test_the_simulators_quota_and_sizes_are_checked_as_arguments(cli, capsys):
    import pytest

    for args in (["--rate-per-minute", "0"], ["--rate-per-minute", "nan"], ["--burst", "0"],
                 ["--conversations", "-5"]):
        with pytest.raises(SystemExit) as exc:
            cli("simulate", *args)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert args[0] in err and "bug" not in err


# --- a key typed as an argument (issue 31 item 6) ------------------------------------------
# argparse's "unrecognized arguments: X" and "invalid choice: 'X'" quote what was typed:
# through the real program, every way a key gets typed, as text, JSON logs and --json.

KEY = "sk-live-Zq81TypedOnTheCommandLine"


def _program(*args, cwd):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    return subprocess.run([sys.executable, "-m", "worker", *map(str, args)], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def _typed_keys(job):
    return [
        ["run", job, "--yes", f"PARTOO_API_KEY={KEY}"],
        [f"PARTOO_API_KEY={KEY}", "run", job, "--yes"],
        ["run", f"PARTOO_API_KEY={KEY}"],  # it would be taken for the job file
        ["run", job, "--yes", "--partoo-key", KEY],
        ["run", "--partoo-key", KEY, job],
        ["run", job, "--auth", KEY],
        ["run", job, f"--bearer={KEY}"],
        ["run", job, "-k", KEY],
        ["run", job, f"-k{KEY}"],
        [f"-k{KEY}", "run", job],
        [KEY, "run", job],
        ["run", job, "--header", f"x-APIKey:{KEY}"],
        ["run", job, f"--header=x-APIKey:{KEY}"],
        ["run", job, KEY],
        ["run", job, f"--yes={KEY}"],
        ["plan", job, "--json", "--header", f"x-APIKey:{KEY}"],
        ["plan", job, "--json", f"PARTOO_API_KEY={KEY}"],
        ["verify", "r.csv", "--json", "-k", KEY],
        ["select", "--json", "--out", "o.csv", "--action", "close", "--token", KEY],
    ]


def test_a_key_typed_as_an_argument_is_never_printed_back(tmp_path):
    import json

    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    for args in _typed_keys(job):
        for log_format in ([], ["--log-format", "json"]):
            result = _program(*args, *log_format, cwd=tmp_path)
            shown = result.stdout + result.stderr
            assert result.returncode == 2, (args, shown)
            assert KEY not in shown and KEY[:12] not in shown, (args, shown)
            assert "Traceback" not in shown and "bug" not in shown
            if log_format:
                lines = [json.loads(line) for line in result.stderr.splitlines()]
                assert lines and lines[-1]["event"] == "usage_error", args
            if "--json" in args:
                assert json.loads(result.stdout)["exit_code"] == 2, args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.csv"]


def test_an_unknown_argument_is_named_by_its_flag_or_its_position(tmp_path):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    masked = _program("run", job, "--yes", "--header", f"x-APIKey:{KEY}", "-k", KEY,
                      f"--frob={KEY}", cwd=tmp_path)
    assert "unrecognized arguments: --header ****, -k ****, --frob=****" in masked.stderr
    stray = _program("run", job, "other.csv", cwd=tmp_path)
    assert "unrecognized arguments: argument 3" in stray.stderr
    assigned = _program("run", job, f"PARTOO_API_KEY={KEY}", cwd=tmp_path)
    assert "argument 3 (PARTOO_API_KEY=****) is a variable's assignment" in assigned.stderr
    assert "before the command" in assigned.stderr
    command = _program(KEY, "run", job, cwd=tmp_path)
    assert "argument 1 is not a command" in command.stderr
    typo = _program("rnu", job, cwd=tmp_path)
    assert "did you mean `partoo-bulk run`?" in typo.stderr and "rnu" not in typo.stderr
    flag = _program("run", job, "--partoo-key", KEY, cwd=tmp_path)
    assert "--partoo-key: the API key is never given on the command line" in flag.stderr
