"""Corporate networks: a real forward proxy (proxy.py, started by the test) that every
request goes through, NO_PROXY that bypasses it, its password kept secret; TLS checked
against the system's store plus a CA bundle, with a CA made by the test (trustme)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from helpers import SECRET, read_report, server_tls, sim_env, tls_env, write_job
from worker.simulator import Simulator, SimulatorThread, seeded_state

PROXY_PASSWORD = "pr0xy-Pa55word-DO-NOT-LEAK"


# The API's host as the proxy's network knows it and ours does not: `.test` never
# resolves (RFC 6761), so a request that did not go through the proxy cannot succeed.
API_HOST = "partoo-api.test"
# proxy.py as it is, its name lookups knowing API_HOST (a company proxy's DNS knows
# names the desktop's does not).
_PROXY_MAIN = f"""
import runpy, socket
_lookup = socket.getaddrinfo
def _getaddrinfo(host, *args, **kwargs):
    return _lookup("127.0.0.1" if host == {API_HOST!r} else host, *args, **kwargs)
socket.getaddrinfo = _getaddrinfo
runpy.run_module("proxy", run_name="__main__", alter_sys=True)
"""


class ForwardProxy:
    """proxy.py in a process of its own; its access log says what went through it (a
    line per client connection: proxy.py does not log each request of a kept-alive one)."""

    def __init__(self, folder: Path, basic_auth: str | None = None,
                 tls: trustme.LeafCert | None = None) -> None:
        self.log = folder / "proxy.log"
        port_file = folder / "proxy.port"
        command = [sys.executable, "-c", _PROXY_MAIN, "--hostname", "127.0.0.1", "--port",
                   "0", "--port-file", str(port_file), "--num-workers", "1",
                   "--num-acceptors", "1", "--log-level", "INFO",
                   "--log-file", str(self.log)]
        if basic_auth:
            command += ["--basic-auth", basic_auth]
        if tls is not None:  # an https proxy: clients speak TLS to the proxy itself
            tls.cert_chain_pems[0].write_to_path(str(folder / "proxy-cert.pem"))
            tls.private_key_pem.write_to_path(str(folder / "proxy-key.pem"))
            command += ["--cert-file", str(folder / "proxy-cert.pem"),
                        "--key-file", str(folder / "proxy-key.pem")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        for _ in range(600):  # up to a minute on a loaded machine
            if port_file.exists() and port_file.read_text().strip():
                break
            if self.process.poll() is not None:
                raise RuntimeError("proxy.py did not start")
            time.sleep(0.1)
        self.port = int(port_file.read_text())
        self.url = f"{'http' if tls is None else 'https'}://127.0.0.1:{self.port}"

    def lines(self, pattern: str, at_least: int = 1) -> list[str]:
        """Its log lines holding `pattern`, once `at_least` are there (proxy.py writes
        one as a client connection ends) or after a few seconds. Its own start-up line
        ("Listening on 127.0.0.1:PORT", in older releases) is no request."""
        for _ in range(100):
            found = [line for line in self._text().splitlines()
                     if pattern in line and "Listening on" not in line]
            if len(found) >= at_least:
                return found
            time.sleep(0.05)
        return found

    def _text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def forward_proxy(tmp_path_factory) -> Iterator:
    started: list[ForwardProxy] = []

    def start(basic_auth: str | None = None,
              tls: trustme.LeafCert | None = None) -> ForwardProxy:
        proxy = ForwardProxy(tmp_path_factory.mktemp("proxy"), basic_auth, tls)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture
def https_sim(company_ca) -> Iterator:
    """The simulator over https, its certificate (for 127.0.0.1, localhost and API_HOST)
    from `company_ca`."""
    ca, bundle = company_ca
    server = server_tls(ca, "127.0.0.1", "localhost", API_HOST)
    sim = SimulatorThread(Simulator(seeded_state(50), keys=(SECRET,), ssl_context=server))
    sim.start()
    yield sim, bundle
    sim.stop()


def _behind_proxy(sim) -> str:
    """The base URL by the API host's name, which only the proxy can resolve."""
    return sim.base_url.replace("127.0.0.1", API_HOST)


def _patches_seen(sim) -> list[int]:
    return [r.conversation_id for r in sim.simulator.state.log.records if r.method == "PATCH"]


def test_every_request_of_every_command_goes_through_the_proxy(tmp_path, https_sim,
                                                              forward_proxy, cli):
    sim, bundle = https_sim
    proxy = forward_proxy()
    env = {**tls_env(sim), "PARTOO_BASE_URL": _behind_proxy(sim), "HTTPS_PROXY": proxy.url,
           "PARTOO_CA_BUNDLE": str(bundle)}
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 31)])
    # The preflight too: a direct connection would be "cannot resolve partoo-api.test".
    result = cli("run", job, "--yes", env=env)
    assert result.code == 0, result.err
    assert sorted(_patches_seen(sim)) == list(range(1, 31))
    verified = cli("verify", tmp_path / "job.report.csv", env=env)
    assert verified.code == 0, verified.err
    selected = cli("select", "--action", "close", "--out", tmp_path / "all.csv", env=env)
    assert selected.code == 0, selected.err
    assert proxy.lines(f"CONNECT {API_HOST}:")  # tunnels, as the proxy logged them


def test_the_same_run_without_the_proxy_cannot_reach_the_host(tmp_path, https_sim, cli):
    sim, bundle = https_sim  # the control: what the proxy made possible
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env={**tls_env(sim), "PARTOO_CA_BUNDLE": str(bundle),
                                           "PARTOO_BASE_URL": _behind_proxy(sim)})
    assert result.code == 2 and f"cannot resolve {API_HOST}" in result.err


def test_a_plain_http_api_is_sent_through_http_proxy(tmp_path, make_sim, forward_proxy, cli):
    sim, proxy = make_sim(), forward_proxy()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 11)])
    result = cli("run", job, "--yes", "--concurrency", "1",
                 env={**tls_env(sim), "HTTP_PROXY": proxy.url})
    assert result.code == 0, result.err
    assert len(_patches_seen(sim)) == 10
    assert proxy.lines(" - PATCH 127.0.0.1:")


def test_no_proxy_sends_direct(tmp_path, https_sim, make_sim, forward_proxy, cli):
    sim, proxy = make_sim(), forward_proxy()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 11)])
    result = cli("run", job, "--yes", env={**tls_env(sim), "HTTP_PROXY": proxy.url,
                                           "NO_PROXY": "localhost,127.0.0.1"})
    assert result.code == 0, result.err
    assert len(_patches_seen(sim)) == 10
    # The run is over and its connections closed: anything through the proxy is logged.
    assert proxy.lines("127.0.0.1:", at_least=1) == []
    https, bundle = https_sim  # and a domain suffix, for the https API by its name
    env = {**tls_env(https), "PARTOO_BASE_URL": _behind_proxy(https),
           "HTTPS_PROXY": proxy.url, "PARTOO_CA_BUNDLE": str(bundle), "NO_PROXY": ".test"}
    bypassed = cli("run", job, "--yes", "--report", tmp_path / "r2.csv", env=env)
    assert bypassed.code == 2 and f"cannot resolve {API_HOST}" in bypassed.err


def test_the_proxy_setting_wins_and_its_password_is_never_shown(tmp_path, https_sim,
                                                                forward_proxy, cli):
    sim, bundle = https_sim
    proxy = forward_proxy(basic_auth=f"ops:{PROXY_PASSWORD}")
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 11)])
    url = f"http://ops:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
    summary = tmp_path / "s.json"
    result = cli("run", job, "--yes", "-v", "--summary-json", summary, "--log-format", "json",
                 env={**tls_env(sim), "PARTOO_BASE_URL": _behind_proxy(sim),
                      "PARTOO_CA_BUNDLE": str(bundle), "PARTOO_PROXY": url,
                      "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert result.code == 0, result.err
    assert sorted(_patches_seen(sim)) == list(range(1, 11)), result.err
    report = (tmp_path / "job.report.csv").read_text()
    for text in (result.out, result.err, summary.read_text(), report):
        assert PROXY_PASSWORD not in text


def test_a_proxy_that_wants_a_password_stops_the_run_saying_so(tmp_path, make_sim,
                                                               forward_proxy, cli):
    sim, proxy = make_sim(), forward_proxy(basic_auth=f"ops:{PROXY_PASSWORD}")
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 41)])
    result = cli("run", job, "--yes", "--summary-json", tmp_path / "s.json",
                 env={**tls_env(sim), "HTTP_PROXY": f"http://127.0.0.1:{proxy.port}"})
    assert result.code == 3
    assert "407" in result.err and "user and password" in result.err
    assert json.loads((tmp_path / "s.json").read_text())["exit_code"] == 3
    assert _patches_seen(sim) == []  # the proxy forwarded nothing
    rows = read_report(tmp_path / "job.report.csv")
    assert len(rows) < 40 or {r["outcome"] for r in rows} <= {"skipped"}


def test_a_wrong_proxy_password_is_not_in_the_message(tmp_path, make_sim, forward_proxy,
                                                      cli):
    sim, proxy = make_sim(), forward_proxy(basic_auth=f"ops:{PROXY_PASSWORD}")
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    wrong = "not-the-Pa55word-either"
    result = cli("run", job, "--yes", "--log-format", "json",
                 env={**tls_env(sim), "PARTOO_PROXY": f"http://ops:{wrong}@127.0.0.1:"
                      f"{proxy.port}"})
    assert result.code == 3
    assert wrong not in result.err and wrong not in result.out
    assert "***@127.0.0.1" in result.err


def test_a_tunnel_refused_for_want_of_a_password_stops_before_sending(tmp_path, https_sim,
                                                                     forward_proxy, cli):
    sim, bundle = https_sim
    proxy = forward_proxy(basic_auth=f"ops:{PROXY_PASSWORD}")
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    env = {**tls_env(sim), "PARTOO_BASE_URL": _behind_proxy(sim),
           "PARTOO_CA_BUNDLE": str(bundle)}
    bare = cli("run", job, "--yes", env={**env, "HTTPS_PROXY": proxy.url})
    assert bare.code == 2 and "407" in bare.err and "user and password" in bare.err
    wrong = cli("run", job, "--yes", env={
        **env, "HTTPS_PROXY": f"http://ops:wrong-Pa55word@127.0.0.1:{proxy.port}"})
    assert wrong.code == 2 and "407" in wrong.err and "wrong-Pa55word" not in wrong.err
    assert _patches_seen(sim) == []
    assert not (tmp_path / "job.report.csv").exists()


def test_an_unreachable_proxy_is_named_before_anything_is_sent(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env={
        **tls_env(sim), "HTTPS_PROXY": f"http://ops:{PROXY_PASSWORD}@127.0.0.1:9",
        "HTTP_PROXY": f"http://ops:{PROXY_PASSWORD}@127.0.0.1:9"})
    assert result.code == 2
    assert "proxy" in result.err and "HTTP_PROXY" in result.err
    assert PROXY_PASSWORD not in result.err
    assert _patches_seen(sim) == []


def test_a_proxy_variable_that_is_not_a_url_says_which(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env={**tls_env(sim),
                                           "HTTP_PROXY": f"socks5://u:{PROXY_PASSWORD}@h:1"})
    assert result.code == 2 and "HTTP_PROXY" in result.err and "socks5" in result.err
    assert PROXY_PASSWORD not in result.err
    bad = cli("run", job, "--yes", env={**tls_env(sim),
                                        "PARTOO_PROXY": f"ftp://u:{PROXY_PASSWORD}@h:1"})
    assert bad.code == 2 and "PARTOO_PROXY" in bad.err and PROXY_PASSWORD not in bad.err


# --- plain http only when the whole way is on this machine (issue 31 item 5) ---------------

# A listener in a network namespace: it records each connection and every byte it gets,
# and answers 502 (what a proxy says when it cannot reach a loopback address of its own).
_LISTENER = """
import socket, sys, threading
address, port_file, log = sys.argv[1], sys.argv[2], sys.argv[3]
server = socket.create_server((address, 0))
def serve(conn):
    with conn, open(log, "ab") as out:
        out.write(b"connection\\n"); out.flush()
        conn.settimeout(5)
        try:
            data = conn.recv(65536)
            out.write(data); out.flush()
            if data:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\\r\\ncontent-length: 0\\r\\n\\r\\n")
        except OSError:
            pass
open(port_file + ".tmp", "w").write(str(server.getsockname()[1]))
__import__("os").replace(port_file + ".tmp", port_file)
while True:
    threading.Thread(target=serve, args=(server.accept()[0],), daemon=True).start()
"""


class FarListener:
    """A socket listening on an address that is not loopback: the far end of a veth pair
    whose other end is in a network namespace made for the test (198.18.0.0/15, the
    benchmarking range, which no network routes)."""

    def __init__(self, folder: Path) -> None:
        import random
        import shutil

        if os.geteuid() != 0 or shutil.which("ip") is None:
            pytest.skip("a network namespace needs root and `ip`")
        tag = f"{os.getpid() % 100000}{random.randrange(1000)}"
        self.namespace, self.host_end = f"pbt{tag}", f"pbh{tag}"
        net = f"198.{18 + random.randrange(2)}.{random.randrange(256)}"
        block = random.randrange(64) * 4
        self.address = f"{net}.{block + 2}"
        steps = [["netns", "add", self.namespace],
                 ["link", "add", self.host_end, "type", "veth", "peer", "name", "pbn" + tag],
                 ["link", "set", "pbn" + tag, "netns", self.namespace],
                 ["addr", "add", f"{net}.{block + 1}/30", "dev", self.host_end],
                 ["link", "set", self.host_end, "up"],
                 ["-n", self.namespace, "addr", "add", f"{self.address}/30", "dev",
                  "pbn" + tag],
                 ["-n", self.namespace, "link", "set", "pbn" + tag, "up"]]
        self.process: subprocess.Popen | None = None
        for step in steps:
            done = subprocess.run(["ip", *step], capture_output=True, text=True)
            if done.returncode != 0:
                self.stop()
                pytest.skip(f"cannot make a network namespace here: {done.stderr.strip()}")
        self.log = folder / "far.log"
        port_file = folder / "far.port"
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, sys.executable, "-c", _LISTENER,
             self.address, str(port_file), str(self.log)])
        for _ in range(300):
            if port_file.exists():
                break
            assert self.process.poll() is None, "the listener did not start"
            time.sleep(0.05)
        self.port = int(port_file.read_text())

    def received(self) -> bytes:
        return self.log.read_bytes() if self.log.exists() else b""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        # Deleting the namespace deletes its end of the pair, and so the pair.
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_end], capture_output=True)


@pytest.fixture
def far_listener(tmp_path_factory) -> Iterator[FarListener]:
    listener = FarListener(tmp_path_factory.mktemp("far"))
    yield listener
    listener.stop()


_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "https_proxy",
                    "HTTPS_PROXY", "no_proxy", "NO_PROXY")


@pytest.fixture
def no_proxy_variables(monkeypatch) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_a_loopback_http_api_through_a_proxy_off_this_machine_is_refused_before_sending(
        tmp_path, make_sim, far_listener, cli, monkeypatch, no_proxy_variables):
    sim = make_sim()
    far = f"ops:{PROXY_PASSWORD}@{far_listener.address}:{far_listener.port}"
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 4)])
    config = tmp_path / "partoo.toml"
    config.write_text(f'proxy = "http://{far}"\n')
    env = sim_env(sim, PARTOO_MAX_ATTEMPTS="1")
    written = cli("run", job, "--yes", "--report", tmp_path / "done.csv",
                  env=sim_env(make_sim()))  # a report for `verify`, from another API
    assert written.code == 0, written.err
    ways = [(name, [], {name: f"http://{far}"}) for name in
            ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")]
    ways += [("PARTOO_PROXY", [], {"PARTOO_PROXY": f"http://{far}"}),
             # TLS to the proxy: it still reads every request whole
             ("PARTOO_PROXY", [], {"PARTOO_PROXY": f"https://{far}"}),
             ("--proxy", ["--proxy", f"http://{far}"], {}),
             ("proxy in a config file", ["--config", config], {})]
    for number, (named, flags, variables) in enumerate(ways):
        for name in _PROXY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        summary = tmp_path / f"s{number}.json"
        result = cli("run", job, "--yes", "--report", tmp_path / f"r{number}.csv",
                     "--summary-json", summary, *flags, env={**env, **variables})
        assert result.code == 2, (named, result.err)
        assert named in result.err and "plain http" in result.err, result.err
        assert "https" in result.err and "NO_PROXY" in result.err and "loopback" in result.err
        assert f"***@{far_listener.address}" in result.err
        for text in (result.out, result.err, summary.read_text()):
            assert PROXY_PASSWORD not in text and SECRET not in text
    for command in (["verify", tmp_path / "done.csv"],
                    ["select", "--action", "close", "--out", tmp_path / "all.csv"]):
        monkeypatch.setenv("HTTP_PROXY", f"http://{far}")
        result = cli(*command, env={**env, "HTTP_PROXY": f"http://{far}"})
        assert result.code == 2 and "HTTP_PROXY" in result.err, result.err
    time.sleep(0.2)  # a stray connection's bytes would be logged by now
    assert far_listener.received() == b""  # not a connection, not a byte
    assert sim.simulator.state.log.records == []


def test_the_far_proxy_is_reached_and_nothing_bypassed_for_https_or_no_proxy(
        tmp_path, make_sim, far_listener, cli, monkeypatch, no_proxy_variables):
    # The control: the listener is reachable (a run that may use it does), and NO_PROXY
    # for the loopback API sends direct, never to it.
    sim = make_sim()
    far = f"http://{far_listener.address}:{far_listener.port}"
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    monkeypatch.setenv("HTTP_PROXY", far)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = cli("run", job, "--yes", env={**sim_env(sim), "HTTP_PROXY": far,
                                           "NO_PROXY": "127.0.0.1"})
    assert direct.code == 0, direct.err
    assert far_listener.received() == b""
    monkeypatch.delenv("NO_PROXY")
    # An https API through it is allowed (TLS end to end): the preflight asks for a tunnel.
    tunnel = cli("run", job, "--yes", "--report", tmp_path / "t.csv",
                 env={**sim_env(sim), "PARTOO_BASE_URL": "https://partoo-api.test/v2",
                      "HTTPS_PROXY": far})
    monkeypatch.setenv("HTTPS_PROXY", far)
    assert tunnel.code == 2, tunnel.err
    for _ in range(100):
        if b"CONNECT partoo-api.test:443" in far_listener.received():
            break
        time.sleep(0.05)
    assert b"CONNECT partoo-api.test:443" in far_listener.received()
    assert SECRET.encode() not in far_listener.received()


# --- TLS: the system's store, plus a CA bundle ----------------------------------------------

def test_an_untrusted_certificate_stops_the_run_naming_the_setting(tmp_path, https_sim,
                                                                   cli):
    sim, _ = https_sim
    assert sim.base_url.startswith("https://")
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 6)])
    result = cli("run", job, "--yes", env=tls_env(sim))
    assert result.code == 2
    assert "certificate" in result.err and "PARTOO_CA_BUNDLE" in result.err
    assert not sim.simulator.state.log.records  # nothing was sent


def test_the_ca_bundle_setting_makes_the_run_succeed(tmp_path, https_sim, cli):
    sim, bundle = https_sim
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 6)])
    result = cli("run", job, "--yes", env={**tls_env(sim), "PARTOO_CA_BUNDLE": str(bundle)})
    assert result.code == 0, result.err
    assert len(_patches_seen(sim)) == 5
    flagged = cli("verify", tmp_path / "job.report.csv", "--ca-bundle", bundle,
                  env=tls_env(sim))
    assert flagged.code == 0, flagged.err


def test_ssl_cert_file_is_honoured(tmp_path, https_sim, cli):
    sim, bundle = https_sim
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env={**tls_env(sim), "SSL_CERT_FILE": str(bundle)})
    assert result.code == 0, result.err


def test_a_ca_bundle_that_is_not_pem_is_a_clear_error(tmp_path, https_sim, cli):
    sim, _ = https_sim
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env={**tls_env(sim), "PARTOO_CA_BUNDLE": str(junk)})
    assert result.code == 2 and "ca_bundle" in result.err and "PEM" in result.err
    missing = cli("run", job, "--yes", env={**tls_env(sim),
                                            "PARTOO_CA_BUNDLE": str(tmp_path / "none.pem")})
    assert missing.code == 2 and "PARTOO_CA_BUNDLE" in missing.err
    assert "no such file" in missing.err
    # Something that is there, but no file: said for what it is (issue 31 item 16).
    for path, kind in ((tmp_path, "a folder"), (Path("/dev/zero"), "a character device")):
        other = cli("run", job, "--yes", env={**tls_env(sim), "PARTOO_CA_BUNDLE": str(path)})
        assert other.code == 2 and f"PARTOO_CA_BUNDLE): {kind}: name a PEM file" in other.err
        assert "no such file" not in other.err


def test_an_untrusted_certificate_through_the_proxy_is_the_same_clear_error(
        tmp_path, https_sim, forward_proxy, cli):
    sim, _ = https_sim
    proxy = forward_proxy()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env={**tls_env(sim), "HTTPS_PROXY": proxy.url,
                                           "PARTOO_BASE_URL": _behind_proxy(sim)})
    assert result.code == 2
    assert "certificate" in result.err and "PARTOO_CA_BUNDLE" in result.err


def test_an_https_proxy_is_checked_against_the_ca_bundle_too(tmp_path, make_sim, company_ca,
                                                            forward_proxy, cli):
    # A company's proxy spoken to over TLS, its certificate from the company's CA: the
    # preflight trusts the ca_bundle as the requests do.
    ca, bundle = company_ca
    sim, proxy = make_sim(), forward_proxy(tls=ca.issue_cert("127.0.0.1"))
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 4)])
    env = {**tls_env(sim), "HTTP_PROXY": proxy.url}
    result = cli("run", job, "--yes", env={**env, "PARTOO_CA_BUNDLE": str(bundle)})
    assert result.code == 0, result.err
    assert len(_patches_seen(sim)) == 3
    untrusted = cli("run", job, "--yes", "--report", tmp_path / "other.csv", env=env)
    assert untrusted.code == 2 and "certificate of the proxy" in untrusted.err


def _program(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m worker ARGS` in a process of its own: the program as users start it
    (`worker.cli.program`, which skips aiohttp's unused default CA loads)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    return subprocess.run([sys.executable, "-m", "worker", *map(str, args)],
                          env={**base, **env}, capture_output=True, text=True, timeout=180)


def test_the_program_goes_through_proxies_with_its_own_tls_context(
        tmp_path, https_sim, make_sim, company_ca, forward_proxy):
    sim, bundle = https_sim
    ca, _ = company_ca
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 4)])
    # https through an http proxy: the tunnel, then TLS with the API.
    tunnel = forward_proxy()
    done = _program("run", job, "--yes", env={
        **tls_env(sim), "PARTOO_BASE_URL": _behind_proxy(sim), "HTTPS_PROXY": tunnel.url,
        "PARTOO_CA_BUNDLE": str(bundle)})
    assert done.returncode == 0, done.stderr
    assert sorted(_patches_seen(sim)) == [1, 2, 3]
    # http through an https proxy: TLS with the proxy.
    plain, secure = make_sim(), forward_proxy(tls=ca.issue_cert("127.0.0.1"))
    done = _program("run", job, "--yes", "--report", tmp_path / "plain.csv", env={
        **tls_env(plain), "HTTP_PROXY": secure.url, "PARTOO_CA_BUNDLE": str(bundle)})
    assert done.returncode == 0, done.stderr
    assert sorted(_patches_seen(plain)) == [1, 2, 3]


def test_no_repr_shows_the_proxy_password(monkeypatch):
    from worker.config import load_settings, proxy_for
    from worker.partoo.client import PartooClient

    for name in [n for n in os.environ if n.startswith("PARTOO_")]:
        monkeypatch.delenv(name)
    settings = load_settings(None, api_key=SECRET,
                             proxy=f"http://ops:{PROXY_PASSWORD}@proxy.example:3128")
    proxy = proxy_for(settings)
    assert proxy is not None and proxy.password == PROXY_PASSWORD
    client = PartooClient(object(), settings.base_url, settings.api_key, 5,  # type: ignore[arg-type]
                          proxy=proxy)
    for text in (repr(settings), str(settings), repr(proxy), str(proxy), repr(client)):
        assert PROXY_PASSWORD not in text and SECRET not in text
    assert "***@proxy.example:3128" in repr(proxy)
