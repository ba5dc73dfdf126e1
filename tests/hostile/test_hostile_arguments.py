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
