"""Fixtures: a fake sender, simulators on loopback, the real CLI in-process.

Helpers that test files import (fakes, job writers, report readers) are in helpers.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from aioresponses_compat import skip_where_aioresponses_cannot_work
from helpers import SECRET, FakeSender, company_ca
from worker.cli import main as cli_main
from worker.core.cells import set_field_limit
from worker.simulator import Simulator, SimulatorThread, seeded_state

# The tests' process plays the program's part for the csv module (the CLI in-process, the
# readers called directly): the field-size limit `worker.core.process.claim` sets in the
# program's own. What a library host with its own limit meets is tested in
# tests/core/test_process.py, which puts Python's default back for the test.
set_field_limit()


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture(autouse=True)
def no_default_config(tmp_path_factory, monkeypatch) -> None:
    """No test reads the developer's own ~/.config/partoo-bulk/config.toml (subprocesses
    inherit this too)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch) -> None:
    """Requests honour HTTP(S)_PROXY / NO_PROXY / SSL_CERT_FILE: the machine's own must not
    send the tests' loopback requests elsewhere (subprocesses inherit this too)."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(name="company_ca")
def company_ca_fixture(tmp_path):
    """(a CA made here and trusted nowhere, its PEM file): the company's CA (`company_ca`)."""
    return company_ca(tmp_path)


@pytest.fixture
def make_sim() -> Iterator:
    """Start simulators in threads (their own loops); the CLI runs in the test's thread."""
    started: list[SimulatorThread] = []

    def start(**options) -> SimulatorThread:
        options.setdefault("keys", (SECRET,))
        n = options.pop("n_conversations", 200)
        sim = SimulatorThread(Simulator(seeded_state(n), **options))
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run `partoo-bulk ARGS` in-process with PARTOO_* settings from `env`."""

    def run(*args: str, env: dict[str, str] | None = None) -> CliRun:
        for name in list(__import__("os").environ):
            if name.startswith("PARTOO_"):
                monkeypatch.delenv(name)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        code = cli_main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run


# --- tests marked `aioresponses`: skipped, saying why, where it cannot work ---------------

def pytest_collection_modifyitems(config, items) -> None:
    skip_where_aioresponses_cannot_work(items)
