"""The API key stays where it belongs: in one header, to the configured API, and nowhere else.

Every output of a run is scanned for the key (and for its first dozen characters, to catch
a key cut in half by a snippet): stdout, stderr (logs at -v, as text and as JSON),
the report and every file written beside it (summary JSON, resume metadata), across
success, failure, 401 and crash paths, and when the server itself echoes the key back.
Then where the key travels: only over https or to loopback, only to the base URL's host,
never through a proxy from the environment, never after a redirect.
"""

from __future__ import annotations

import errno
import gc
import json
import re
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses
from pydantic import SecretStr

from helpers import SECRET, read_report, sim_env, write_job
from stand_ins import (
    API,
    CONVERSATION,
    ServerThread,
    api_env,
    closed_rows,
    mocked_api,
)
from worker.cli import main as cli_main
from worker.config import load_settings
from worker.core.errors import ConfigError
from worker.partoo.client import PartooClient
from worker.simulator import Faults

PREFIX = SECRET[:12]
FAULTY = Faults(error_before=0.1, error_after=0.05, reset_before=0.05, html_error=0.05,
                seed=7)


def leaks(result, folder: Path) -> list[str]:
    """Where the key (or its start) shows up: stdout, stderr, or a file in `folder`."""
    texts = {"stdout": result.out, "stderr": result.err}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            texts[path.name] = path.read_bytes().decode("utf-8", "replace")
    return [name for name, text in texts.items() if SECRET in text or PREFIX in text]


def job_with_every_kind_of_row(folder: Path) -> Path:
    rows = [(str(i), "closed", "") for i in range(1, 31)]
    rows += [("abc", "closed", ""), ("5", "", "nobody"), ("999999", "closed", ""),
             ("10", "open", "")]  # invalid; unknown user (400); unknown id (404); expired
    return write_job(folder / "job.csv", rows)


def run_flags(folder: Path) -> list[str]:
    return ["--yes", "-v", "--summary-json", str(folder / "summary.json")]


# --- every output, every path ---------------------------------------------------------------

@pytest.mark.parametrize("log_format", ["text", "json"])
def test_success_and_failure_runs_never_show_the_key(tmp_path, make_sim, cli, log_format):
    sim = make_sim(faults=FAULTY)
    job = job_with_every_kind_of_row(tmp_path)
    result = cli("run", job, *run_flags(tmp_path), "--log-format", log_format,
                 env=sim_env(sim, PARTOO_MAX_ATTEMPTS="8"))
    assert result.code == 1, result.err
    assert "PATCH /conversations/" in result.err  # -v did log every request
    outcomes = {r["outcome"] for r in read_report(tmp_path / "job.report.csv")}
    assert outcomes == {"ok", "failed", "invalid"}
    assert leaks(result, tmp_path) == []


def test_a_401_at_the_start_and_a_key_revoked_mid_run_never_show_the_key(tmp_path, make_sim,
                                                                       cli):
    sim = make_sim(keys=("another-key-entirely",))
    first = tmp_path / "first"
    first.mkdir()
    result = cli("run", write_job(first / "job.csv", closed_rows(20)), *run_flags(first),
                 env=sim_env(sim))
    assert result.code == 3 and "check PARTOO_API_KEY" in result.err
    assert leaks(result, first) == []

    sim = make_sim(n_conversations=400)
    second = tmp_path / "second"
    second.mkdir()
    report = second / "job.report.csv"

    def revoke() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if report.exists() and report.read_text().count("\n") > 50:
                sim.call(lambda s: s.keys.discard(SECRET))
                return
            time.sleep(0.01)

    revoker = threading.Thread(target=revoke, daemon=True)
    revoker.start()
    result = cli("run", write_job(second / "job.csv", closed_rows(400)), *run_flags(second),
                 env=sim_env(sim, PARTOO_RATE_PER_MINUTE="12000", PARTOO_CONCURRENCY="1"))
    revoker.join(20)
    assert result.code == 3 and "401" in result.err, result.err
    assert {r["outcome"] for r in read_report(report)} == {"ok", "skipped"}
    assert leaks(result, second) == []


def test_a_report_that_cannot_be_written_never_shows_the_key(tmp_path, make_sim, cli,
                                                             monkeypatch):
    from worker.report.writer import ReportWriter

    real_write = ReportWriter.write

    def write(self, result):
        if self.rows_written >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, result)

    monkeypatch.setattr(ReportWriter, "write", write)
    sim = make_sim()
    result = cli("run", write_job(tmp_path / "job.csv", closed_rows(20)), *run_flags(tmp_path),
                 env=sim_env(sim))
    assert result.code == 3 and "No space left" in result.err
    assert leaks(result, tmp_path) == []


def test_an_internal_error_never_shows_the_key(tmp_path, make_sim, cli, monkeypatch):
    from worker.run.summary import Summary

    def broken(self, wall_s, report):
        raise RuntimeError("summary exploded")

    monkeypatch.setattr(Summary, "line", broken)
    sim = make_sim()
    result = cli("run", write_job(tmp_path / "job.csv", closed_rows(5)), *run_flags(tmp_path),
                 env=sim_env(sim))
    assert result.code == 3 and "internal error (RuntimeError)" in result.err
    assert leaks(result, tmp_path) == []


def test_a_library_error_quoting_the_header_never_shows_the_key(tmp_path, make_sim, cli,
                                                                monkeypatch):
    """Some HTTP libraries put a bad header's value in their error (requests does)."""

    async def refuse(self, method, url, **kwargs):
        raise ValueError(f"Invalid header value {kwargs['headers']['x-APIKey']!r}")

    monkeypatch.setattr(aiohttp.ClientSession, "_request", refuse)
    sim = make_sim()
    try:
        result = cli("run", write_job(tmp_path / "job.csv", closed_rows(5)),
                     *run_flags(tmp_path), env=sim_env(sim))
    finally:
        gc.collect()  # let asyncio log about any dead task now, inside this test
    assert leaks(result, tmp_path) == [], result.err
    assert result.code == 3 and "ValueError" in result.err
    report = tmp_path / "job.report.csv"
    assert not report.exists() or len(read_report(report)) == 5


ECHOES = {
    "400 JSON": dict(status=400, payload={"error": {"json": f"key {SECRET} is not allowed"}}),
    "401 JSON": dict(status=401, payload={"errors": {"authentication": f"bad key {SECRET}"}}),
    "403 JSON, escaped": dict(status=403, body='{"errors": {"authorization": "'
                              + "".join(f"\\u{ord(c):04x}" for c in SECRET) + '"}}',
                              content_type="application/json"),
    "502 proxy page": dict(status=502, content_type="text/html",
                           body=f"<html><pre>x-APIKey: {SECRET}</pre></html>"),
    "500 text, key cut by the snippet": dict(status=500, body="x" * 110 + SECRET),
    "200 captive portal": dict(status=200, content_type="text/html",
                               body=f"<html>Hello {SECRET}</html>"),
    "200 JSON": dict(status=200, payload={"status": "nope", "you_sent": SECRET}),
    "302 to a URL holding the key": dict(status=302, headers={
        "Location": f"https://{SECRET}@login.example/?key={SECRET}"}),
    "409 reason phrase": dict(status=409, reason=f"Conflict for {SECRET}", body=""),
}


@pytest.mark.aioresponses
@pytest.mark.parametrize("name", list(ECHOES))
def test_a_server_that_echoes_the_key_back_does_not_get_it_into_any_output(tmp_path, cli,
                                                                           name):
    job = write_job(tmp_path / "job.csv", closed_rows(2))
    with mocked_api() as m:
        m.patch(CONVERSATION, repeat=True, **ECHOES[name])
        result = cli("run", job, *run_flags(tmp_path), env=api_env(PARTOO_MAX_ATTEMPTS="2"))
    assert result.code in (1, 3), result.err
    report = read_report(tmp_path / "job.report.csv")
    # A 401 stops the run and leaves the rows to --resume; other refusals fail the row.
    outcome = "skipped" if name.startswith("401") else "failed"
    assert report[0]["outcome"] == outcome and report[0]["error"]
    assert leaks(result, tmp_path) == []


# --- the settings and the client ------------------------------------------------------------

def test_the_settings_and_the_client_never_show_the_key(monkeypatch, tmp_path):
    monkeypatch.setenv("PARTOO_API_KEY", SECRET)
    settings = load_settings()
    shown = [repr(settings), str(settings), settings.model_dump_json(), repr(settings.api_key),
             str(settings.model_dump())]
    for flags in ({"rate_per_minute": 0}, {"base_url": "http://example.com"}):
        with pytest.raises(ConfigError) as err:
            load_settings(**flags)
        shown.append(str(err.value))
    bad = tmp_path / "c.toml"
    bad.write_text(f'api_key = ["{SECRET}"]\napi_kee = "{SECRET}"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(bad)
    shown.append(str(err.value))
    client = PartooClient(None, "https://api.partoo.co/v2", SecretStr(SECRET), 5)  # type: ignore[arg-type]
    shown += [repr(client), str(client)]
    for text in shown:
        assert SECRET not in text and PREFIX not in text, text


@pytest.mark.parametrize("key", [
    SECRET + "\r",  # copied from a file saved on Windows
    SECRET + "\n",
    "sk-test\n-5f1d9c0e",
    "sk-test-\x00-5f1d9c0e",
    "sk-tést-5f1d9c0e",
    "sk-test-\u200b5f1d9c0e",  # a zero-width space from a web page
    "sk-test-\udce95f1d9c0e",  # a latin-1 byte in an environment variable
], ids=["CR at the end", "LF at the end", "LF inside", "NUL", "non-ASCII", "zero-width space",
        "undecodable byte"])
def test_a_key_that_cannot_go_in_a_header_is_refused_before_anything_is_sent(tmp_path, make_sim,
                                                                            cli, key):
    sim = make_sim(keys=(SECRET, key.strip()))
    job = write_job(tmp_path / "job.csv", closed_rows(5))
    env = sim_env(sim, PARTOO_API_KEY=key)
    args = []
    if "\x00" in key:  # an environment variable cannot hold a NUL; a config file can
        del env["PARTOO_API_KEY"]
        config = tmp_path / "c.toml"
        config.write_text(f"api_key = {json.dumps(key)}\n", encoding="utf-8")
        args = ["--config", config]
    result = cli("run", job, "--yes", *args, env=env)
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    if result.code == 0:
        # Surrounding whitespace stripped (a fine fix too): it worked, with the clean key.
        assert key != key.strip() and SECRET not in result.err
        return
    assert result.code == 2, result.err
    assert "PARTOO_API_KEY" in result.err
    assert sim.state.log.stats()["requests"] == 0
    visible = key.strip("\r\n")
    assert visible not in result.err and PREFIX not in result.err


# --- where the key may travel ---------------------------------------------------------------

@pytest.mark.aioresponses
@pytest.mark.parametrize("url", [
    "http://api.partoo.co/v2",
    "HTTP://api.partoo.co/v2",
    "http://10.0.0.1/v2",
    "http://localhost.evil.example/v2",
    "http://127.0.0.1.nip.io/v2",
    "http://2130706433/v2",  # 127.0.0.1 as a number: we do not guess, we refuse
    "http://127.0.0.1@evil.example/v2",
    "https://user:pass@api.partoo.co/v2",
    "https://api.partoo.co/v2?api_key=x",
    "ftp://api.partoo.co/v2",
    "api.partoo.co/v2",
])
def test_base_urls_that_could_expose_the_key_are_refused_before_sending(tmp_path, cli, url):
    job = write_job(tmp_path / "job.csv", closed_rows(2))
    with aioresponses() as m:
        result = cli("run", job, "--yes", env=api_env(PARTOO_BASE_URL=url))
        assert m.requests == {}
    assert result.code == 2 and "base_url" in result.err, result.err
    assert leaks(result, tmp_path) == []


def test_a_proxy_from_the_environment_never_sees_a_request_for_a_host_in_no_proxy(
        tmp_path, make_sim, cli, monkeypatch):
    """HTTP(S)_PROXY pointing at a recording server, the API's host in NO_PROXY: the run
    goes straight to the API. (Since issue 22 the proxy variables are honoured; requests
    through a real proxy, and the preflight's tunnel, are in tests/e2e/test_network.py.)"""

    async def record(request: web.Request) -> web.StreamResponse:
        return web.Response(status=502)

    proxy = ServerThread(record)
    proxy.start()
    try:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy.root_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.delenv("no_proxy", raising=False)
        sim = make_sim()
        result = cli("run", write_job(tmp_path / "job.csv", closed_rows(10)), "--yes",
                     env=sim_env(sim))
    finally:
        proxy.stop()
    assert result.code == 0, result.err
    assert proxy.requests == []
    patches = [r for r in sim.state.log.records if r.method == "PATCH"]
    assert len(patches) == 10
    assert all(SECRET not in r.path and SECRET not in str(r.body) for r in patches)


@pytest.mark.aioresponses
def test_the_key_is_only_ever_in_the_x_apikey_header(tmp_path, cli):
    """Every request of a run with every kind of answer: same host, key in one header."""
    answers = [dict(status=500, body=""), dict(status=429, headers={"Retry-After": "0.01"}),
               dict(payload={"status": "success"})]
    job = write_job(tmp_path / "job.csv", closed_rows(3))
    with mocked_api() as m:
        for answer in answers * 3:
            m.patch(CONVERSATION, **answer)
        result = cli("run", job, "--yes", env=api_env(PARTOO_MAX_ATTEMPTS="5",
                                                      PARTOO_MAX_RETRY_AFTER_S="0.05"))
        calls = [(url, call.kwargs) for (_method, url), calls in m.requests.items()
                 for call in calls]
    assert result.code == 0, result.err
    assert len([url for url, _kwargs in calls if "/conversations/" in str(url)]) == 9
    for url, kwargs in calls:
        assert str(url).startswith(API + "/conversations") and SECRET not in str(url)
        headers = dict(kwargs["headers"])
        assert headers.pop("x-APIKey") == SECRET
        assert SECRET not in repr(headers) and SECRET not in repr(kwargs.get("json"))
        assert kwargs["allow_redirects"] is False


def test_there_is_no_flag_for_the_key(capsys):
    """The key comes from the environment or a file: a flag would sit in shell history."""
    with pytest.raises(SystemExit):
        cli_main(["run", "--help"])
    assert not re.search(r"--[\w-]*key", capsys.readouterr().out, re.IGNORECASE)
