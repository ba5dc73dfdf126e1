"""https runs through the real CLI against the simulator behind TLS, its certificate from
a CA made here (trustme): the CA named by ca_bundle or SSL_CERT_FILE is trusted, any other
certificate is refused before anything is sent, and the trust store is read once per run,
not at every connection (issue 23: reading a 220 KB CA bundle costs 40-50 ms of CPU, the
event loop stalled meanwhile, and a run at concurrency 64 opens 64 connections at once)."""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Callable

import pytest
import trustme

from helpers import read_report, server_tls, tls_env, write_job
from worker.partoo.tls import ssl_context
from worker.simulator.faults import Faults

ROWS = 40


@pytest.fixture
def https_sim(make_sim) -> Callable[..., object]:
    """The simulator over https, with a certificate from `ca` for `names`."""

    def start(ca: trustme.CA, *names: str, **options: object):
        sim = make_sim(ssl_context=server_tls(ca, *names), **options)
        assert sim.base_url.startswith("https://")
        return sim

    return start


@pytest.fixture(autouse=True)
def fresh_contexts():
    """Contexts are cached per process (each run of the CLI here is in this process)."""
    ssl_context.cache_clear()
    yield
    ssl_context.cache_clear()


def _patches(sim) -> list[int]:
    return [r.conversation_id for r in sim.simulator.state.log.records if r.method == "PATCH"]


@pytest.mark.parametrize("setting", ["PARTOO_CA_BUNDLE", "SSL_CERT_FILE"])
def test_an_https_run_trusts_the_ca_file_it_is_given(tmp_path, https_sim, company_ca, cli,
                                                     setting):
    ca, bundle = company_ca
    sim = https_sim(ca)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, ROWS + 1)])
    result = cli("run", job, "--yes", env=tls_env(sim, **{setting: str(bundle)}))
    assert result.code == 0, result.err
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == ["ok"] * ROWS
    assert sorted(_patches(sim)) == list(range(1, ROWS + 1))


def test_a_certificate_from_a_ca_nobody_named_is_refused_before_sending(
        tmp_path, https_sim, company_ca, cli):
    _, bundle = company_ca
    sim = https_sim(trustme.CA())  # not the CA in the bundle
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env=tls_env(sim, PARTOO_CA_BUNDLE=str(bundle)))
    assert result.code == 2
    assert "could not be verified" in result.err and "ca_bundle" in result.err
    assert "nothing was sent" in result.err and "Traceback" not in result.err
    assert not sim.simulator.state.log.records


def test_a_certificate_for_another_host_is_refused_though_its_ca_is_trusted(
        tmp_path, https_sim, company_ca, cli):
    ca, bundle = company_ca
    sim = https_sim(ca, "elsewhere.test")
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env=tls_env(sim, PARTOO_CA_BUNDLE=str(bundle)))
    assert result.code == 2
    # "IP address mismatch" or "Hostname mismatch": the base URL's host is checked
    assert "could not be verified" in result.err and "mismatch" in result.err
    assert not sim.simulator.state.log.records


class StoreSpy:
    """Counts, in this process, the client TLS connections made (`wrap_bio` /
    `wrap_socket`, what asyncio and truststore call for each) and every trust-store load
    (`set_default_verify_paths`, `load_verify_locations`), on every context."""

    def __init__(self, monkeypatch) -> None:
        self.connections = 0
        self.loads: list[str] = []
        self._lock = threading.Lock()  # the simulator's thread makes connections too
        cls = ssl.SSLContext
        for name in ("wrap_bio", "wrap_socket"):
            monkeypatch.setattr(cls, name, self._connecting(getattr(cls, name)))
        original_defaults, original_load = cls.set_default_verify_paths, \
            cls.load_verify_locations

        def set_default_verify_paths(context):
            self._note("OpenSSL's default paths")
            return original_defaults(context)

        def load_verify_locations(context, cafile=None, capath=None, cadata=None):
            self._note(str(cafile or capath or "cadata"))
            return original_load(context, cafile, capath, cadata)

        monkeypatch.setattr(cls, "set_default_verify_paths", set_default_verify_paths)
        monkeypatch.setattr(cls, "load_verify_locations", load_verify_locations)

    def _connecting(self, original):
        def wrap(context, *args, **kwargs):
            if not kwargs.get("server_side"):
                with self._lock:
                    self.connections += 1
            return original(context, *args, **kwargs)
        return wrap

    def _note(self, what: str) -> None:
        with self._lock:
            self.loads.append(what)


@pytest.mark.skipif(sys.platform in ("darwin", "win32"),
                    reason="truststore asks the OS's store at each connection there")
def test_the_trust_store_is_read_once_per_run_not_per_connection(
        tmp_path, https_sim, company_ca, cli, monkeypatch):
    ca, bundle = company_ca
    # Dropped connections (never applied, so retried) make the client connect again.
    sim = https_sim(ca, faults=Faults(reset_before=0.2, seed=7))
    spy = StoreSpy(monkeypatch)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, ROWS + 1)])
    result = cli("run", job, "--yes", env=tls_env(sim, PARTOO_CA_BUNDLE=str(bundle),
                                                  PARTOO_CONCURRENCY="8"))
    assert result.code == 0, result.err
    assert sorted(set(_patches(sim))) == list(range(1, ROWS + 1))
    # the preflight's, at least one per concurrent request, and the reconnections
    assert spy.connections > 1 + 8
    assert spy.loads.count(str(bundle)) == 1
    system_store = [what for what in spy.loads if what != str(bundle)]
    assert len(system_store) <= 1, spy.loads  # OpenSSL's paths or one well-known bundle
