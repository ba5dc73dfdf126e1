"""Which heavy libraries each command loads (issue 23): a command that sends nothing
does not import the HTTP stack, so `plan`, `report` and `--help` start fast. Each case
is a fresh interpreter running the CLI, which prints the top-level packages loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import write_job

HEAVY = ("aiohttp", "yarl", "multidict", "rich", "tenacity", "prometheus_client", "shtab")

_PROBE = """
import json, sys
from worker.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted({name.partition(".")[0] for name in sys.modules})
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def loaded_by(*args: str, cwd, key: str | None = None) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    if key is not None:
        env["PARTOO_API_KEY"] = key
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] in (0, 1, None), done.stderr
    assert "worker" in result["loaded"]  # the probe ran the CLI
    return set(result["loaded"])


@pytest.fixture
def report(tmp_path, make_sim, cli):
    from helpers import sim_env

    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 6)])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    return tmp_path / "job.report.csv"


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["plan", "--help"],
                                  ["report", "--help"]])
def test_help_loads_no_heavy_library(tmp_path, args):
    assert loaded_by(*args, cwd=tmp_path).isdisjoint(HEAVY)


@pytest.mark.parametrize("args", [["run", "--help"], ["verify", "--help"]])
def test_help_with_the_settings_defaults_loads_no_pydantic(tmp_path, args):
    """The "(default X)" of each settings flag is read from the defaults table, not from
    the settings model."""
    assert "pydantic" not in loaded_by(*args, cwd=tmp_path)


def test_plan_loads_no_http_stack(tmp_path):
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 6)])
    assert loaded_by("plan", str(job), cwd=tmp_path).isdisjoint(HEAVY)


@pytest.mark.parametrize("key", [None, "an-exported-key"])
def test_plan_with_nothing_that_sets_a_setting_loads_no_pydantic(tmp_path, key):
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 6)])
    assert "pydantic" not in loaded_by("plan", str(job), cwd=tmp_path, key=key)


def test_report_loads_no_http_stack_nor_pydantic(tmp_path, report):
    loaded = loaded_by("report", str(report), cwd=tmp_path)
    assert loaded.isdisjoint(HEAVY)
    assert "pydantic" not in loaded


def test_report_json_loads_no_http_stack(tmp_path, report):
    assert loaded_by("report", str(report), "--json", cwd=tmp_path).isdisjoint(HEAVY)
