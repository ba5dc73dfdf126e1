"""Key files as containers mount them, and one rule for every file a key lives in
(issue 22 §2; issue 24 items 5, 6, 7, 13): libpq's rule (owner-only, or root-owned and
group-readable) plus a warning, not a refusal, where other users can read the key;
refused where they can change it; never a hang on a pipe; the caller's key wins."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import worker
from helpers import SECRET, sim_env, write_job
from worker.core.errors import ConfigError
from worker.keyfile import check_secret_file

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def key_file(path: Path, mode: int, text: str = SECRET + "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def key_env(sim, path, **extra: str) -> dict[str, str]:
    env = sim_env(sim, PARTOO_API_KEY_FILE=str(path), **extra)
    del env["PARTOO_API_KEY"]
    return env


def one_row_job(folder: Path) -> Path:
    return write_job(folder / "job.csv", [("1", "closed", "")])


def kubernetes_volume(folder: Path, mode: int) -> Path:
    """A secret volume laid out as the kubelet does: key -> ..data/key, ..data -> a
    timestamped folder holding the file."""
    stamp = folder / "..2026_12_02_06_00_00.000000001"
    key_file(stamp / "partoo-api-key", mode)
    (folder / "..data").symlink_to(stamp.name)
    (folder / "partoo-api-key").symlink_to("..data/partoo-api-key")
    return folder / "partoo-api-key"


def fake_stat(mode: int, uid: int) -> os.stat_result:
    return os.stat_result((stat.S_IFREG | mode, 1, 1, 1, uid, 0, 10, 0, 0, 0))


# --- through the CLI, with real files ----------------------------------------------------

@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_key_file_of_its_owner_alone_is_used_without_a_word(tmp_path, make_sim, cli, mode):
    sim = make_sim()
    path = key_file(tmp_path / "partoo.key", mode)
    result = cli("run", one_row_job(tmp_path), "--yes", env=key_env(sim, path))
    assert result.code == 0, result.err
    assert "warning" not in result.err
    assert sim.state.conversations[1].is_solved


@pytest.mark.parametrize("mode", [0o640, 0o440])
def test_a_group_readable_key_file_is_quiet_when_root_owns_it_and_warned_otherwise(
        tmp_path, make_sim, cli, mode):
    sim = make_sim()  # Kubernetes with fsGroup: root-owned 0440
    path = key_file(tmp_path / "partoo.key", mode)
    result = cli("run", one_row_job(tmp_path), "--yes", env=key_env(sim, path))
    assert result.code == 0, result.err
    if AS_ROOT:  # the file is root's: libpq's "root-owned and group-readable"
        assert "warning" not in result.err
    else:  # the user's own, readable by its group: used, with a warning
        assert "let other users read the key" in result.err


def test_kubernetes_default_0644_behind_its_symlinks_is_used_with_a_warning(tmp_path,
                                                                             make_sim, cli):
    sim = make_sim()
    path = kubernetes_volume(tmp_path / "secrets", 0o644)
    result = cli("run", one_row_job(tmp_path), "--yes", env=key_env(sim, path))
    assert result.code == 0, result.err
    assert sim.state.conversations[1].is_solved
    assert "permissions 0644 let other users read the key" in result.err
    assert "Kubernetes" in result.err and "defaultMode" in result.err
    assert SECRET not in result.err


def test_a_world_readable_0444_secret_is_used_with_a_warning(tmp_path, make_sim, cli):
    sim = make_sim()  # as root here: root-owned 0444, a Docker secret as mounted
    path = key_file(tmp_path / "run" / "secrets" / "partoo_api_key", 0o444)
    result = cli("run", one_row_job(tmp_path), "--yes", env=key_env(sim, path))
    assert result.code == 0, result.err
    assert "permissions 0444 let other users read the key" in result.err
    if AS_ROOT:
        assert "Docker" in result.err


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o664, 0o646])
def test_a_key_file_others_can_write_is_refused_behind_symlinks_too(tmp_path, make_sim, cli,
                                                                     mode):
    sim = make_sim()
    path = kubernetes_volume(tmp_path / "secrets", mode)
    result = cli("run", one_row_job(tmp_path), "--yes", env=key_env(sim, path))
    assert result.code == 2
    assert f"permissions {mode:04o} let other users change it" in result.err
    assert sim.state.log.stats()["requests"] == 0


def test_a_config_file_holding_the_key_follows_the_same_rule(tmp_path, make_sim, cli):
    sim = make_sim()
    config = tmp_path / "partoo.toml"
    config.write_text(f'api_key = "{SECRET}"\n', encoding="utf-8")
    env = sim_env(sim)
    del env["PARTOO_API_KEY"]
    config.chmod(0o666)  # others could put their own key (or base_url) in it: refused
    refused = cli("run", one_row_job(tmp_path), "--yes", "--config", config, env=env)
    assert refused.code == 2 and "permissions 0666 let other users change it" in refused.err
    assert sim.state.log.stats()["requests"] == 0
    config.chmod(0o644)  # readable by others: used, with the key file's warning
    warned = cli("run", one_row_job(tmp_path), "--yes", "--config", config, env=env)
    assert warned.code == 0, warned.err
    assert "permissions 0644 let other users read the key" in warned.err
    config.chmod(0o600)
    quiet = cli("run", one_row_job(tmp_path), "--yes", "--overwrite", "--config", config,
                env=env)
    assert quiet.code == 0 and "warning" not in quiet.err


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    return subprocess.run([sys.executable, "-m", "worker", *args], env={**full, **env},
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def test_a_key_file_that_is_a_pipe_is_refused_at_once_and_plan_never_reads_it(tmp_path,
                                                                               make_sim):
    sim = make_sim()
    fifo = tmp_path / "partoo.key"
    os.mkfifo(fifo, 0o600)  # no writer: opening it to read would wait forever
    job = one_row_job(tmp_path)
    run = _cli(["run", str(job), "--yes"], key_env(sim, fifo), tmp_path)
    assert run.returncode == 2
    assert "a named pipe (FIFO), not a file" in run.stderr
    plan = _cli(["plan", str(job)], key_env(sim, fifo), tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert sim.state.log.stats()["requests"] == 0


def test_a_key_pasted_into_the_key_file_variable_is_never_echoed(tmp_path, make_sim, cli):
    sim = make_sim()
    pasted = "sk-live-7Hq2ZpW9xLmN4vB8"
    summary = tmp_path / "summary.json"
    result = cli("run", one_row_job(tmp_path), "--yes", "--summary-json", summary,
                 env=key_env(sim, pasted))
    assert result.code == 2
    assert "PARTOO_API_KEY_FILE: no such file" in result.err and "not shown" in result.err
    assert pasted not in result.err and pasted not in result.out
    assert pasted not in summary.read_text()
    assert json.loads(summary.read_text())["exit_code"] == 2
    # Nothing tells a key from a path: a value that names no file is never shown, one
    # with `/`, `.` or a short extension neither (issue 31 item 7).
    for value in ("sk/live+7Hq2ZpW9xLmN4vB8==", "7Hq2ZpW9.key", "/sk-live-7Hq2ZpW9",
                  "./sk-live-7Hq2ZpW9", "~/sk-live-7Hq2ZpW9"):
        named = cli("run", one_row_job(tmp_path), "--yes", "--summary-json", summary,
                    "--log-format", "json", env=key_env(sim, value))
        assert named.code == 2, named.err
        assert "PARTOO_API_KEY_FILE: no such file" in named.err or "not a path" in named.err
        for text in (named.err, named.out, summary.read_text()):
            assert "7Hq2ZpW9" not in text and "sk-live" not in text, text


@pytest.mark.parametrize("value", [
    "sk-live-7Hq2ZpW9xLmN4vB8", "sk/live+7Hq2ZpW9xLmN4vB8==", "7Hq2ZpW9xLmN.key",
    "/7Hq2ZpW9xLmN4vB8", "secrets/7Hq2ZpW9xLmN4vB8.txt", "../7Hq2ZpW9xLmN4vB8",
    "7Hq2ZpW9\\u0000xLmN"])  # a TOML escape: a NUL byte in the value
def test_a_key_pasted_as_api_key_file_in_a_config_file_is_never_echoed(tmp_path, make_sim,
                                                                       cli, value):
    sim = make_sim()
    config = tmp_path / "partoo.toml"
    config.write_text(f'api_key_file = "{value}"\n', encoding="utf-8")
    env = sim_env(sim)
    del env["PARTOO_API_KEY"]
    summary = tmp_path / "summary.json"
    for log_format in ("text", "json"):
        result = cli("run", one_row_job(tmp_path), "--yes", "--config", config,
                     "--summary-json", summary, "--log-format", log_format, env=env)
        assert result.code == 2
        assert (f"api_key_file in {config}: no such file" in result.err
                or f"api_key_file in {config}: not a path" in result.err), result.err
        assert "its value is not shown" in result.err
        if not value.startswith("/"):  # where a relative one was looked for
            assert f"a relative path is read from {tmp_path}" in result.err
        for text in (result.err, result.out, summary.read_text()):
            assert "7Hq2ZpW9" not in text, text
        assert json.loads(summary.read_text())["exit_code"] == 2
    assert sim.state.log.stats()["requests"] == 0


def test_a_key_file_that_names_a_file_is_named_in_every_message(tmp_path, make_sim, cli):
    sim = make_sim()
    folder = tmp_path / "secrets"
    folder.mkdir()
    result = cli("run", one_row_job(tmp_path), "--yes", env=key_env(sim, folder))
    assert result.code == 2 and f"PARTOO_API_KEY_FILE {folder}: a folder" in result.err


def test_a_401_names_where_the_key_came_from_never_the_key(tmp_path, make_sim, cli):
    sim = make_sim(keys=("another-key",))  # the key of the file is refused: 401
    path = key_file(tmp_path / "partoo.key", 0o600)
    result = cli("run", one_row_job(tmp_path), "--yes", env=key_env(sim, path))
    assert result.code == 3, result.err
    assert f"check the key in {path} (PARTOO_API_KEY_FILE)" in result.err
    assert "check PARTOO_API_KEY" not in result.err and SECRET not in result.err
    config = tmp_path / "partoo.toml"
    config.write_text('api_key_file = "partoo.key"\n', encoding="utf-8")
    env = key_env(sim, "")
    del env["PARTOO_API_KEY_FILE"]
    named = cli("run", one_row_job(tmp_path), "--yes", "--overwrite", "--config", config,
                env=env)
    assert named.code == 3, named.err
    assert f"check the key in {path} (api_key_file in {config})" in named.err
    config.write_text(f'api_key = "{SECRET}"\n', encoding="utf-8")
    config.chmod(0o600)
    inline = cli("run", one_row_job(tmp_path), "--yes", "--overwrite", "--config", config,
                 env=env)
    assert inline.code == 3 and f"check api_key in {config}" in inline.err, inline.err
    direct = cli("run", one_row_job(tmp_path), "--yes", "--overwrite",
                 env={**env, "PARTOO_API_KEY": SECRET})
    assert direct.code == 3 and "check PARTOO_API_KEY" in direct.err
    report = (tmp_path / "job.report.csv").read_text()
    assert SECRET not in report


def test_an_empty_key_variable_says_it_is_empty(tmp_path, make_sim, cli):
    sim = make_sim()
    env = {**sim_env(sim), "PARTOO_API_KEY": "  "}
    result = cli("run", one_row_job(tmp_path), "--yes", env=env)
    assert result.code == 2 and "PARTOO_API_KEY is set, but empty" in result.err
    del env["PARTOO_API_KEY"]
    unset = cli("run", one_row_job(tmp_path), "--yes", env=env)
    assert unset.code == 2 and "PARTOO_API_KEY is not set" in unset.err


# --- the rule itself, on any owner (whoever runs the tests) ------------------------------

@pytest.mark.parametrize(("mode", "uid", "verdict"), [
    (0o600, 1000, "quiet"), (0o400, 1000, "quiet"),
    (0o640, 0, "quiet"), (0o440, 0, "quiet"),  # root-owned, group-readable (libpq)
    (0o640, 1000, "warned"), (0o644, 1000, "warned"),
    (0o444, 0, "warned"), (0o644, 0, "warned"),  # Docker secrets, Kubernetes' default
    (0o660, 1000, "refused"), (0o602, 0, "refused"), (0o664, 0, "refused"),
    (0o600, 4242, "refused"),  # another user's file: they can swap the key
])
def test_one_rule_for_every_file_a_key_lives_in(monkeypatch, caplog, mode, uid, verdict):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    caplog.set_level(logging.WARNING, logger="partoo_bulk")
    try:
        check_secret_file(fake_stat(mode, uid), "KEYFILE", Path("/run/secrets/key"))
    except ConfigError:
        got = "refused"
    else:
        got = "warned" if caplog.records else "quiet"
    assert got == verdict


def test_a_root_owned_0444_secret_gets_the_docker_fix(monkeypatch, caplog):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    caplog.set_level(logging.WARNING, logger="partoo_bulk")
    check_secret_file(fake_stat(0o444, 0), "KEYFILE", Path("/run/secrets/key"))
    assert "Docker" in caplog.text


# --- the Python API: the caller's key wins ------------------------------------------------

def test_the_callers_api_key_beats_the_key_file_in_the_environment(tmp_path, make_sim,
                                                                   monkeypatch):
    sim = make_sim()  # knows SECRET only
    other = key_file(tmp_path / "other.key", 0o600, "sk-someone-else-entirely\n")
    for name in [n for n in os.environ if n.startswith("PARTOO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PARTOO_API_KEY_FILE", str(other))
    result = worker.run_job(one_row_job(tmp_path), settings={
        "api_key": SECRET, "base_url": sim.base_url, "request_timeout_s": 5})
    assert result.exit_code == 0, result.stop_reason
    assert [r.status for r in sim.state.log.records] == [200]
    # Without the caller's key, the environment's file is the key (and is refused here).
    fallback = worker.run_job(one_row_job(tmp_path), report=tmp_path / "r2.csv",
                              settings={"base_url": sim.base_url, "request_timeout_s": 5})
    assert fallback.exit_code == 3 and fallback.stop_kind == "unauthorized"
