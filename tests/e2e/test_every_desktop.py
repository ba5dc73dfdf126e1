"""Where `fcntl` does not exist (Windows): every module imports and `plan` works (the
lock's Windows branch: tests/files/test_oslock.py; signals without the loop's handlers:
tests/sending/test_signals_without_loop_handlers.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import write_job

NO_FCNTL = """
import importlib, pkgutil, sys

class NoFcntl:
    def find_spec(self, name, path=None, target=None):
        if name == "fcntl":
            raise ModuleNotFoundError("No module named 'fcntl'", name="fcntl")

sys.modules.pop("fcntl", None)
sys.meta_path.insert(0, NoFcntl())
import worker
for info in pkgutil.walk_packages(worker.__path__, "worker."):
    if info.name != "worker.__main__":  # it runs the CLI: that comes last
        importlib.import_module(info.name)
assert "fcntl" not in sys.modules
from worker.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_fcntl_every_module_imports_and_plan_runs(tmp_path):
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "open", "")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    done = subprocess.run([sys.executable, "-c", NO_FCNTL, "plan", str(job), "--json"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"rows": 2' in done.stdout
