"""`select` as a real process, stopped by a signal mid-listing: exit 130, no job file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import sim_env


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_listing_leaves_no_job_file(tmp_path, make_sim, sig):
    # Two pages at once, then one every 3 s: the listing is surely under way when stopped.
    sim = make_sim(n_conversations=200, rate_per_minute=20, burst=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    env.update(sim_env(sim))
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "select", "--action", "close", "--per-page", "10",
         "--out", str(tmp_path / "job.csv")], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while sim.call(lambda s: s.state.log.by_status[429]) == 0:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    assert any(tmp_path.iterdir())  # the partial file is there, under a hidden name

    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)

    assert proc.returncode == 130, err
    assert f"interrupted ({sig.name}): no job file was written" in err
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []
