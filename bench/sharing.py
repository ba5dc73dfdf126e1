"""Sharing: another integration takes about a third of the same quota; does the worker adapt?

The simulator enforces one quota per key (token bucket, small burst). `steady_client.py`
(standing for the organization's CRM sync) sends a third of it, steadily, on the same
key, and neither slows down nor retries. The worker is configured with the whole quota
(it cannot know about the other integration) and must find what is left from 429s.

Figures, over the worker's sending span (first to last request the server saw from it):
- the worker's 429s as a share of its requests (target < 2%);
- its successful requests per minute against what is left, the quota minus what the
  other integration actually got through (target >= 90%);
- what it cost the other integration: its 429s in that span (a naive client loses them).

    .venv/bin/python bench/sharing.py [--quick]
"""

from __future__ import annotations

import json
import subprocess
import time

from _common import (
    PYTHON,
    REPO,
    SimProcess,
    quick_flag,
    run_worker,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)


def run(quick: bool) -> str:
    quota, burst, concurrency = (6_000, 5, 8) if quick else (3_000, 5, 8)
    other_rate = quota / 3
    rows = 500 if quick else 4_000
    with workdir() as d, SimProcess(quota, burst, conversations=rows) as sim:
        job = write_job(d / "sharing.csv", rows)
        other = subprocess.Popen(
            [PYTHON, str(REPO / "bench" / "steady_client.py"), "--base-url", sim.base_url,
             "--rate-per-minute", f"{other_rate:g}", "--conversations", str(rows)],
            stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(2.0)  # the other integration is already running when the job starts
            result = run_worker(job, worker_env(sim.base_url, quota, concurrency))
        finally:
            other.terminate()
            other_counts = json.loads(other.communicate(timeout=30)[0] or "{}")
        arrivals = sim.arrivals()
    if result.code != 0:
        raise RuntimeError(f"worker: exit {result.code}: {result.stderr[-500:]}")
    mine = [at for at, _, ours in arrivals if ours]
    start, end = min(mine), max(mine)
    span = end - start
    in_span = [(status, ours) for at, status, ours in arrivals if start <= at <= end]
    worker_ok = in_span.count((200, True))
    worker_requests = sum(1 for _, ours in in_span if ours)
    worker_429 = in_span.count((429, True))
    other_ok = in_span.count((200, False))
    other_429 = in_span.count((429, False))
    per_min = 60 / span
    left = quota - other_ok * per_min
    used = worker_ok * per_min / left
    share_429 = worker_429 / worker_requests if worker_requests else 0.0
    rows_out = [[
        f"{quota:,}/min", f"{other_rate:,.0f}/min", burst, rows, span,
        worker_requests, worker_429, f"{share_429:.2%}", verdict(share_429 < 0.02),
        # A quick run ends before the rate has climbed back from its first cut: its
        # share of what is left says little, and is not judged.
        other_ok * per_min, left, worker_ok * per_min, f"{used:.1%}",
        "(quick)" if quick else verdict(used >= 0.90),
        other_429, other_counts.get("sent", 0),
    ]]
    return table(
        "sharing: the other integration sends a third of the quota on the same key; "
        "the worker is configured with the whole quota",
        ["quota", "other sends", "sim burst", "rows", "span s", "requests", "429s",
         "429 share", "", "other ok/min", "left/min", "worker ok/min", "used of left", "",
         "other's 429s", "other sent"],
        rows_out)


if __name__ == "__main__":
    print(run(quick_flag()))
