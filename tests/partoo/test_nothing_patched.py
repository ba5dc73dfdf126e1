"""Importing and running partoo-bulk patches nothing of `ssl` or aiohttp, in a program
that imports `worker` and in the command line's own process alike.

Each case is a fresh interpreter (aiohttp builds its default TLS contexts at its first
import), against the simulator over https with a certificate from a CA only
SSL_CERT_FILE trusts. What a user relies on: `ssl.SSLContext` is the class Python made,
aiohttp's own defaults still trust the system's store (a host's sessions rely on them),
and the run verifies the API's certificate with its own context.
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

# The probe: the client imported (as a run imports it), `ssl.SSLContext`'s own methods
# compared with what they were before, then one GET with aiohttp's own defaults and one
# with the standard library's; each line says what it found.
_PROBE = """
import asyncio, ssl, sys, urllib.request
before = dict(vars(ssl.SSLContext))
CLAIM
import worker.partoo.client
import aiohttp

URL = sys.argv[1]

async def with_aiohttp_defaults():
    async with aiohttp.ClientSession() as session, session.get(URL) as resp:
        return resp.status

print("ssl", "untouched" if dict(vars(ssl.SSLContext)) == before else "patched")
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
    return done.stdout.split("\n")[:3]


def _state_url(sim: SimulatorThread) -> str:
    return sim.base_url.removesuffix("/v2") + "/_sim/state"


@pytest.mark.parametrize("claimed", [False, True], ids=["a library host", "the program"])
def test_ssl_and_aiohttp_defaults_are_as_python_and_aiohttp_made_them(https_sim, claimed):
    sim, bundle = https_sim
    assert _probe(_state_url(sim), bundle, claimed=claimed) == \
        ["ssl untouched", "aiohttp 200", "stdlib 200"]


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
