"""The command line's own process skips pydantic's plugin scan; a program that imports
`worker` keeps pydantic's plugins (`worker.core.process`).

A plugin is a distribution with a `pydantic` entry point: one is made here, on the
path of fresh interpreters, and it leaves a file when pydantic loads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import sim_env, write_job

try:
    import pydantic.plugin._loader  # noqa: F401
except ImportError:  # CI's lowest versions: pydantic 2.0 has no plugins to skip
    pytestmark = pytest.mark.skip(reason="this pydantic loads no plugins")


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


def test_a_program_that_imports_worker_keeps_pydantic_plugins(plugin_path):
    folder, loaded = plugin_path
    done = subprocess.run([sys.executable, "-c", "import worker.config.settings"],
                          env=_env(folder), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert loaded.exists()  # the control: this plugin is one pydantic loads


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
