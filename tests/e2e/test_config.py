"""Secrets and settings where ops keep them: a key file (a mounted secret), PARTOO_CONFIG,
the XDG default config file, and the precedence between them, through the real CLI."""

from __future__ import annotations

import os

import pytest

from helpers import SECRET, sim_env, write_job


def key_file(folder, mode=0o600, text=SECRET + "\n"):
    path = folder / "partoo.key"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def env_with_key_file(sim, path, **extra):
    env = sim_env(sim, PARTOO_API_KEY_FILE=str(path), **extra)
    del env["PARTOO_API_KEY"]
    return env


def one_row_job(folder):
    return write_job(folder / "job.csv", [("1", "closed", "")])


def test_a_key_file_readable_only_by_its_owner_is_used_its_newline_dropped(tmp_path, make_sim,
                                                                          cli):
    sim = make_sim()
    result = cli("run", one_row_job(tmp_path), "--yes",
                 env=env_with_key_file(sim, key_file(tmp_path)))
    assert result.code == 0, result.err
    (record,) = sim.state.log.records
    assert record.status == 200  # the simulator knows only SECRET: the newline was dropped
    assert sim.state.conversations[1].is_solved


# Readable by others is accepted with a warning since issue 22 (containers mount secrets
# 0644 and 0444): tests/e2e/test_key_files.py. Writable by others is still refused.
@pytest.mark.parametrize("mode", [0o660, 0o620, 0o602, 0o666])
def test_a_key_file_others_can_change_is_refused(tmp_path, make_sim, cli, mode):
    sim = make_sim()
    path = key_file(tmp_path, mode)
    result = cli("run", one_row_job(tmp_path), "--yes", env=env_with_key_file(sim, path))
    assert result.code == 2
    assert f"PARTOO_API_KEY_FILE {path}: permissions {mode:04o} let other users change" \
        in result.err
    assert f"chmod 600 {path}" in result.err
    assert SECRET not in result.err + result.out and SECRET[:8] not in result.err
    assert sim.state.log.stats()["requests"] == 0


@pytest.mark.parametrize(("text", "says"), [
    ("", "the file is empty"),
    ("\n", "the file is empty"),
    (SECRET + "\nsecond line\n", "holds more than the key"),
    ("key with spaces", "holds more than the key"),
])
def test_a_key_file_that_is_not_one_key_is_refused_without_showing_it(tmp_path, cli, text,
                                                                      says):
    path = key_file(tmp_path, text=text)
    result = cli("plan", one_row_job(tmp_path), env={})  # plan needs no key: reads none
    assert result.code == 0
    result = cli("verify", tmp_path / "r.csv", env={"PARTOO_API_KEY_FILE": str(path)})
    assert result.code == 2 and says in result.err
    assert "second line" not in result.err and SECRET not in result.err


def test_a_missing_key_file_or_both_key_variables_are_clear_errors(tmp_path, cli):
    job = one_row_job(tmp_path)
    missing = cli("run", job, "--yes", env={"PARTOO_API_KEY_FILE": str(tmp_path / "nope")})
    assert missing.code == 2
    assert "PARTOO_API_KEY_FILE: no such file" in missing.err  # the value is not shown
    both = cli("run", job, "--yes", env={"PARTOO_API_KEY": SECRET,
                                         "PARTOO_API_KEY_FILE": str(key_file(tmp_path))})
    assert both.code == 2
    assert "both PARTOO_API_KEY and PARTOO_API_KEY_FILE are set" in both.err
    assert SECRET not in both.err


def test_a_symlinked_secret_is_followed_and_its_target_judged(tmp_path, make_sim, cli):
    """Kubernetes mounts a secret as a symlink to a file in a hidden folder."""
    sim = make_sim()
    target = key_file(tmp_path, 0o400)
    link = tmp_path / "mounted.key"
    link.symlink_to(target)
    result = cli("run", one_row_job(tmp_path), "--yes", env=env_with_key_file(sim, link))
    assert result.code == 0, result.err


def write_config(path, **values):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in values.items()]
    path.write_text("\n".join(lines).replace("'", '"') + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def planned_rate(result) -> str:
    """The rate `plan` estimated at: '... at 120/min; ...'."""
    return result.out.split(" at ")[1].split("/min")[0]


def test_settings_come_from_flags_then_env_then_named_file_then_default_file(tmp_path,
                                                                          monkeypatch, cli):
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    job = one_row_job(tmp_path)
    assert planned_rate(cli("plan", job)) == "300"  # no file anywhere: the default
    write_config(xdg / "partoo-bulk" / "config.toml", rate_per_minute=100, concurrency=3)
    assert planned_rate(cli("plan", job)) == "100"  # the XDG default file
    named = write_config(tmp_path / "named.toml", rate_per_minute=200)
    assert planned_rate(cli("plan", job, env={"PARTOO_CONFIG": str(named)})) == "200"
    assert planned_rate(cli("plan", job, "--config", named)) == "200"
    assert planned_rate(cli("plan", job, env={"PARTOO_CONFIG": str(named),
                                              "PARTOO_RATE_PER_MINUTE": "250"})) == "250"
    assert planned_rate(cli("plan", job, "--rate-per-minute", "50",
                            env={"PARTOO_RATE_PER_MINUTE": "250"})) == "50"


def test_config_flag_wins_over_partoo_config_and_both_layer_over_the_default(tmp_path,
                                                                            monkeypatch):
    from worker.config import load_settings

    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    for name in [n for n in os.environ if n.startswith("PARTOO_")]:
        monkeypatch.delenv(name)
    write_config(xdg / "partoo-bulk" / "config.toml", concurrency=3, max_attempts=7)
    env_file = write_config(tmp_path / "env.toml", concurrency=4)
    flag_file = write_config(tmp_path / "flag.toml", concurrency=5)
    monkeypatch.setenv("PARTOO_CONFIG", str(env_file))
    assert load_settings().concurrency == 4
    settings = load_settings(flag_file)
    assert (settings.concurrency, settings.max_attempts) == (5, 7)  # the default file layers


def test_without_xdg_config_home_the_default_file_is_under_home(tmp_path, monkeypatch, cli):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    write_config(tmp_path / ".config" / "partoo-bulk" / "config.toml", rate_per_minute=120)
    assert planned_rate(cli("plan", one_row_job(tmp_path))) == "120"


def test_a_bad_value_in_the_default_file_names_that_file_and_no_flag_that_does_not_exist(
        tmp_path, monkeypatch, cli):
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    default = write_config(xdg / "partoo-bulk" / "config.toml", burst=0, ratee_per_minute=1)
    result = cli("plan", one_row_job(tmp_path))
    assert result.code == 2
    assert f"'ratee_per_minute' in {default}: unknown setting; did you mean" in result.err
    bad = cli("plan", one_row_job(tmp_path), env={"PARTOO_BURST": "0"})
    assert "burst (PARTOO_BURST" in bad.err and "--burst" not in bad.err


def test_a_bad_key_in_the_environment_names_no_api_key_flag(tmp_path, cli):
    result = cli("run", one_row_job(tmp_path), "--yes", env={"PARTOO_API_KEY": "two words"})
    assert result.code == 2 and "api_key (PARTOO_API_KEY)" in result.err
    assert "--api-key" not in result.err


def test_api_key_file_in_a_config_file_is_read_relative_to_that_file(tmp_path, make_sim,
                                                                     monkeypatch, cli):
    sim = make_sim()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    key_file(secrets)
    config = write_config(tmp_path / "partoo.toml", api_key_file="secrets/partoo.key")
    env = sim_env(sim, PARTOO_CONFIG=str(config))
    del env["PARTOO_API_KEY"]
    monkeypatch.chdir(tmp_path.parent)  # not where the config file is
    result = cli("run", one_row_job(tmp_path), "--yes", env=env)
    assert result.code == 0, result.err
    both = write_config(tmp_path / "both.toml", api_key="x", api_key_file="secrets/partoo.key")
    refused = cli("run", one_row_job(tmp_path), "--yes", "--overwrite",
                  env={**env, "PARTOO_CONFIG": str(both)})
    assert refused.code == 2 and "both api_key and api_key_file are set" in refused.err
