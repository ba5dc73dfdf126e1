"""The command line's own process sets what belongs to the process (pydantic's plugin
scan skipped, the collector's thresholds and freeze, the csv field limit); a program that
imports `worker` keeps its own (`worker.core.process`).

A plugin is a distribution with a `pydantic` entry point: one is made here, on the
path of fresh interpreters, and it leaves a file when pydantic loads it.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import worker
from helpers import SECRET, sim_env, write_job
from worker.core.cells import FIELD_LIMIT
from worker.core.errors import ConfigError
from worker.report.lines import open_lines

try:
    import pydantic.plugin._loader  # noqa: F401
    _NO_PLUGINS = False
except ImportError:  # CI's lowest versions: pydantic 2.0 has no plugins to skip
    _NO_PLUGINS = True
needs_plugins = pytest.mark.skipif(_NO_PLUGINS, reason="this pydantic loads no plugins")


@pytest.fixture
def plugin_path(tmp_path) -> tuple[Path, Path]:
    """(a folder holding a pydantic plugin, the file it writes when it is loaded)."""
    folder, loaded = tmp_path / "site", tmp_path / "loaded"
    info = folder / "spyplugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spyplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nspy = spyplugin:plugin\n")
    (folder / "spyplugin.py").write_text(
        f"open({str(loaded)!r}, 'w').close()\n\n"
        "class _Plugin:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n\n"
        "plugin = _Plugin()\n")
    return folder, loaded


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PARTOO_") and k != "PYDANTIC_DISABLE_PLUGINS"}
    return {**env, "PYTHONPATH": str(folder), **extra}


@needs_plugins
def test_a_program_that_imports_worker_keeps_pydantic_plugins(plugin_path):
    folder, loaded = plugin_path
    done = subprocess.run([sys.executable, "-c", "import worker.config.settings"],
                          env=_env(folder), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert loaded.exists()  # the control: this plugin is one pydantic loads


@needs_plugins
def test_the_command_line_does_not_look_for_pydantic_plugins(plugin_path, make_sim,
                                                             tmp_path):
    folder, loaded = plugin_path
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    done = subprocess.run([sys.executable, "-m", "worker", "run", str(job), "--yes"],
                          env=_env(folder, **sim_env(sim)), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert sim.state.conversations[1].is_solved
    assert not loaded.exists()


@needs_plugins
def test_a_choice_the_user_made_about_plugins_stands(plugin_path, make_sim, tmp_path):
    folder, loaded = plugin_path
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    done = subprocess.run([sys.executable, "-m", "worker", "run", str(job), "--yes"],
                          env=_env(folder, PYDANTIC_DISABLE_PLUGINS="logfire",
                                    **sim_env(sim)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert loaded.exists()


# --- the process's own settings: the collector's and the csv module's ------------------

# A host program: its own collector thresholds, then `import worker` and one job through
# the Python API against a simulator of its own. The simulator reads its clock at every
# request it gets, so each reading is taken while the run sends.
_HOST = """
import csv, gc, json, sys, time

gc.set_threshold(555, 11, 12)  # the host's own


def settings():
    return [list(gc.get_threshold()), gc.get_freeze_count(), csv.field_size_limit()]


before = settings()
during = []


def clock():
    during.append(settings())
    return time.monotonic()


import worker
from worker.simulator import Simulator, SimulatorThread, seeded_state

sim = SimulatorThread(Simulator(seeded_state(5), keys=(sys.argv[2],), clock=clock))
sim.start()
try:
    result = worker.run_job(sys.argv[1], settings={
        "api_key": sys.argv[2], "base_url": sim.base_url, "rate_per_minute": 60000})
finally:
    sim.stop()
print(json.dumps({"code": result.exit_code, "before": before, "during": during,
                  "after": settings()}))
"""


def _python(code: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_program_that_runs_a_job_finds_its_collector_and_csv_limit_as_it_left_them(
        tmp_path):
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    seen = json.loads(_python(_HOST, str(job), SECRET))
    assert seen["code"] == 0
    assert seen["before"] == [[555, 11, 12], 0, 131072]  # a fresh interpreter's csv limit
    assert len(seen["during"]) == 2  # a reading per row, each while the run sends
    assert all(s == seen["before"] for s in seen["during"]), seen["during"]
    assert seen["after"] == seen["before"]


def test_the_program_s_own_process_gets_our_collector_and_csv_settings():
    out = _python("import csv, gc\n"
                  "before = gc.get_threshold()\n"
                  "from worker.core import process\n"
                  "process.settle()\n"  # not ours yet: nothing frozen
                  "print(gc.get_freeze_count())\n"
                  "process.claim()\n"
                  "print(gc.get_threshold() == (10_000, *before[1:]), csv.field_size_limit())\n"
                  "process.settle()\n"
                  "print(gc.get_freeze_count() > 0)\n")
    assert out.split() == ["0", "True", str(FIELD_LIMIT), "True"]


@pytest.fixture
def host_csv_limit() -> Iterator[int]:
    """Python's default csv limit, as a program that imports `worker` has it."""
    saved = csv.field_size_limit(131072)
    yield 131072
    csv.field_size_limit(saved)


def test_a_host_s_lower_csv_limit_is_named_not_taken_for_a_torn_report(tmp_path, make_sim,
                                                                       cli, host_csv_limit):
    # The report of a CLI run (its limit set) holds a 200 KB cell. Read in a host whose
    # limit is Python's default, that line must not end the rows a resume trusts (every
    # row after it would be sent again): the read says which limit to set, and a resume
    # through the Python API refuses to start.
    sim = make_sim()
    job = tmp_path / "job.csv"
    write_job(job, [(str(i), "closed", "x" * 200_000 if i == 2 else "n") for i in range(1, 5)],
              header=("conversation_id", "status", "note"))
    csv.field_size_limit(FIELD_LIMIT)
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    sent = sim.state.log.requests
    csv.field_size_limit(host_csv_limit)
    report = tmp_path / "job.report.csv"
    with pytest.raises(ConfigError, match=rf"job.report.csv, line 3: .*"
                       rf"csv.field_size_limit\({FIELD_LIMIT}\)"):
        list(open_lines(report).prefix())
    with pytest.raises(ConfigError, match=r"csv field-size limit \(131072 characters"):
        worker.run_job(job, settings=_settings(sim), resume=True)
    assert sim.state.log.requests == sent


def test_a_host_s_lower_csv_limit_is_named_for_a_job_cell_too(tmp_path, make_sim,
                                                              host_csv_limit):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "x" * 200_000)],
                    header=("conversation_id", "status", "note"))
    with pytest.raises(ConfigError, match=r"job.csv, line 2: a cell is longer than this "
                       r"process's csv field-size limit \(131072 characters"):
        worker.run_job(job, settings=_settings(sim))
    assert sim.state.log.requests == 0


def _settings(sim) -> dict[str, object]:
    return {k.removeprefix("PARTOO_").lower(): v for k, v in sim_env(sim).items()}


def test_report_leaves_the_collector_of_a_process_it_shares_on(tmp_path, make_sim, cli,
                                                               monkeypatch):
    # `main` in a host's process (here, the tests'): the host's collector stays its own
    # while `report` reads, where the program's own process switches it off.
    from worker.report.stats import ReportStats

    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    seen: list[bool] = []
    add_lines = ReportStats.add_lines

    def watched(self, lines):
        seen.append(gc.isenabled())
        return add_lines(self, lines)

    monkeypatch.setattr(ReportStats, "add_lines", watched)
    assert cli("report", tmp_path / "job.report.csv").code == 0
    assert seen and all(seen), seen
