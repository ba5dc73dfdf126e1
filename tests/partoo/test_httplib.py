"""aiohttp's first import in a process the command line owns skips the CA-store loads of
its default contexts (`worker.partoo.httplib`); every other process keeps them.

Each case is a fresh interpreter (the import happens once per process), against the
simulator over https with a certificate from a CA only SSL_CERT_FILE trusts. What a user
relies on: the run still verifies the API's certificate, a connection made with
aiohttp's defaults in our own process is refused rather than accepted unchecked, and a
program that imports `worker` keeps aiohttp (and `ssl`) exactly as they were.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from helpers import SECRET, read_report, server_tls, tls_env, write_job
from worker.simulator import Simulator, SimulatorThread, seeded_state

# The probe: the client imported (as a run imports it), then one GET with aiohttp's own
# defaults and one with the standard library's; each prints what it got.
_PROBE = """
import asyncio, sys, urllib.request
CLAIM
import worker.partoo.client
import aiohttp

URL = sys.argv[1]

async def with_aiohttp_defaults():
    async with aiohttp.ClientSession() as session, session.get(URL) as resp:
        return resp.status

try:
    print("aiohttp", asyncio.run(with_aiohttp_defaults()))
except aiohttp.ClientConnectorCertificateError:
    print("aiohttp refused")
try:
    print("stdlib", urllib.request.urlopen(URL, timeout=20).status)
except urllib.error.URLError:
    print("stdlib refused")
"""


@pytest.fixture
def https_sim(company_ca) -> Iterator[tuple[SimulatorThread, str]]:
    ca, bundle = company_ca
    sim = SimulatorThread(Simulator(seeded_state(5), keys=(SECRET,),
                                    ssl_context=server_tls(ca, "127.0.0.1")))
    sim.start()
    yield sim, str(bundle)
    sim.stop()


def _probe(url: str, bundle: str, *, claimed: bool) -> list[str]:
    claim = "from worker.core import process; process.claim()" if claimed else ""
    code = textwrap.dedent(_PROBE).replace("CLAIM", claim)
    # /_sim/ answers a GET without a key: the probe is about TLS, not about Partoo.
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "SSL_CERT_FILE": bundle})
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:2]


def _state_url(sim: SimulatorThread) -> str:
    return sim.base_url.removesuffix("/v2") + "/_sim/state"


def test_a_library_process_keeps_aiohttp_defaults_as_they_were(https_sim):
    sim, bundle = https_sim
    assert _probe(_state_url(sim), bundle, claimed=False) == ["aiohttp 200", "stdlib 200"]


def test_in_the_cli_process_aiohttp_defaults_refuse_and_ssl_is_untouched(https_sim):
    sim, bundle = https_sim
    # Fail closed: a connection with the store-less defaults is refused, never accepted
    # unchecked; and `ssl` itself is as it was (its default context still trusts the CA).
    assert _probe(_state_url(sim), bundle, claimed=True) == ["aiohttp refused",
                                                            "stdlib 200"]


def test_the_program_verifies_the_api_certificate_with_its_own_context(https_sim,
                                                                      tmp_path):
    sim, bundle = https_sim
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")},
           **tls_env(sim)}
    # `python -m worker` is the program (`worker.cli.program`), as the console script is.
    trusted = subprocess.run([sys.executable, "-m", "worker", "run", str(job), "--yes"],
                             env={**env, "SSL_CERT_FILE": bundle}, capture_output=True,
                             text=True, timeout=120)
    assert trusted.returncode == 0, trusted.stderr
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == ["ok", "ok"]
    untrusted = subprocess.run([sys.executable, "-m", "worker", "run", str(job), "--yes",
                                "--report", str(tmp_path / "other.csv")], env=env,
                               capture_output=True, text=True, timeout=120)
    assert untrusted.returncode == 2
    assert "could not be verified" in untrusted.stderr
