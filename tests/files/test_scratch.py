"""Scratch folders: a killed process's folder is removed by the next one made; a folder
in use, another prefix, another user's or a link are never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import write_job
from worker.files.scratch import Scratch

PREFIX = "partoo-bulk-plan-"

# A process that makes a scratch folder, says where, and waits to be killed.
_HOLDER = ("import sys, time; from pathlib import Path; from worker.files.scratch import "
           "Scratch; s = Scratch(sys.argv[1], Path(sys.argv[2])); print(s.path, flush=True);"
           " time.sleep(60)")


def holder(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, PREFIX, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_a_killed_makers_folder_goes_when_the_next_is_made_a_live_ones_stays(tmp_path):
    killed, stale = holder(tmp_path)
    alive, in_use = holder(tmp_path)
    (stale / "3.bin").write_bytes(b"ids")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    try:
        fresh = Scratch(PREFIX, tmp_path)
        assert not stale.exists()
        assert in_use.is_dir()  # its maker lives: its lock is held
        fresh.remove()
        assert not fresh.path.exists()
    finally:
        alive.kill()
        alive.wait()
        alive.stdout.close()
        killed.stdout.close()


def test_an_unlocked_folder_goes_only_once_old_and_nothing_else_is_touched(tmp_path):
    young, old = tmp_path / f"{PREFIX}young", tmp_path / f"{PREFIX}old"
    young.mkdir()
    old.mkdir()
    hour_and_more = time.time() - 3700
    os.utime(old, (hour_and_more, hour_and_more))  # left by a version without locks
    other = tmp_path / "partoo-bulk-other"
    other.mkdir()
    target = tmp_path / "kept"
    target.mkdir()
    (target / ".lock").write_text("")
    (tmp_path / f"{PREFIX}link").symlink_to(target)
    (tmp_path / f"{PREFIX}file").write_text("not a folder")

    made = Scratch(PREFIX, tmp_path)
    assert not old.exists()
    assert young.is_dir() and other.is_dir() and target.is_dir()
    assert (tmp_path / f"{PREFIX}link").is_symlink() and (tmp_path / f"{PREFIX}file").exists()
    assert oct(made.path.stat().st_mode & 0o777) == "0o700"
    made.remove()


def test_a_killed_plan_leaves_its_folder_only_until_the_next_big_plan(tmp_path):
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 300_001)])
    spills = tmp_path / "tmp"
    spills.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")},
           "TMPDIR": str(spills)}
    plan = subprocess.Popen([sys.executable, "-m", "worker", "plan", str(job)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(spills.glob(f"{PREFIX}*")):
        assert plan.poll() is None, "the plan ended before it spilled"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    plan.send_signal(signal.SIGTERM)  # at its default: no clean-up of its own
    plan.wait()
    assert len(list(spills.glob(f"{PREFIX}*"))) == 1

    again = subprocess.run([sys.executable, "-m", "worker", "plan", str(job)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert not list(spills.glob(f"{PREFIX}*"))
