"""Sharing: another integration takes a third of the same quota; does the worker adapt?

The simulator enforces one quota per key (token bucket, small burst): 3,000/min.
`steady_client.py` (standing for the organization's CRM sync) sends 1,000/min, steadily,
on the same key, and neither slows down nor retries. The worker is configured with the
whole quota (it cannot know about the other integration) and must find the 2,000/min
that are left from 429s.

Jobs: a short one (about 30 s at what is left; three runs in full mode, since who the
server refuses when its bucket is empty varies from run to run) and, in full mode only,
a long one (about 10 minutes). The other integration starts alone (10 s; 3 s in quick
mode): its 429s then are its own, the baseline "without us". Figures, over the worker's sending span
(first to last request the server saw from it):
- the worker's 429s as a share of its requests (goal < 1%, bar < 2%);
- its successful requests per minute against what is left: the quota minus what the
  other integration actually got through, not what it tried (goal >= 97%, bar >= 92%);
- the other integration's 429s per 1,000 of its requests, alone and with the worker:
  what the worker cost it.

    .venv/bin/python bench/sharing.py [--quick | --short]

--short runs the three 30 s jobs of full mode and not the 10-minute one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from dataclasses import dataclass

from _common import (
    PYTHON,
    REPO,
    SimProcess,
    run_worker,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

QUOTA = 3_000
OTHER = 1_000
SIM_BURST = 5
LEFT = QUOTA - OTHER


@dataclass(frozen=True)
class Job:
    name: str
    seconds: float  # at what is left
    alone_s: float  # the other integration's head start
    judged: bool = True


def jobs(quick: bool, short: bool = False) -> list[Job]:
    if quick:  # too short for the figures to mean much: shown, not judged
        return [Job("quick 10 s", 10, 3, judged=False)]
    short_jobs = [Job("30 s (1)", 30, 10), Job("30 s (2)", 30, 10), Job("30 s (3)", 30, 10)]
    return short_jobs if short else [*short_jobs, Job("10 min", 600, 10)]


def per_1000(count: int, total: int) -> str:
    return f"{1000 * count / total:.1f}" if total else "-"


def run_job(job: Job) -> list[object]:
    rows = round(LEFT / 60 * job.seconds)
    with workdir() as d, SimProcess(QUOTA, SIM_BURST, conversations=rows) as sim:
        path = write_job(d / "sharing.csv", rows)
        other = subprocess.Popen(
            [PYTHON, str(REPO / "bench" / "steady_client.py"), "--base-url", sim.base_url,
             "--rate-per-minute", str(OTHER), "--conversations", str(rows)],
            stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(job.alone_s)
            result = run_worker(path, worker_env(sim.base_url, QUOTA, None))
            load = os.getloadavg()[0]  # the machine is shared: say how busy it was
        finally:
            other.terminate()
            other.communicate(timeout=30)
        arrivals = sim.arrivals()
    if result.code != 0:
        raise RuntimeError(f"worker: exit {result.code}: {result.stderr[-500:]}")
    mine = [at for at, _, ours in arrivals if ours]
    start, end = min(mine), max(mine)
    span = end - start
    alone = [status for at, status, ours in arrivals if not ours and at < start - 0.5]
    in_span = [(status, ours) for at, status, ours in arrivals if start <= at <= end]
    worker_ok = in_span.count((200, True))
    worker_requests = sum(1 for _, ours in in_span if ours)
    worker_429 = in_span.count((429, True))
    other_ok = in_span.count((200, False))
    other_429 = in_span.count((429, False))
    per_min = 60 / span
    left = QUOTA - other_ok * per_min
    used = worker_ok * per_min / left
    share_429 = worker_429 / worker_requests if worker_requests else 0.0
    judge_used = (verdict(used >= 0.92) + (" (goal)" if used >= 0.97 else "")
                  if job.judged else "(quick)")
    judge_429 = verdict(share_429 < 0.02) + (" (goal)" if share_429 < 0.01 else "")
    return [job.name, rows, span, worker_requests, worker_429, f"{share_429:.2%}", judge_429,
            other_ok * per_min, left, worker_ok * per_min, f"{used:.1%}", judge_used,
            f"{per_1000(alone.count(429), len(alone))} of {len(alone)}",
            f"{per_1000(other_429, other_ok + other_429)} of {other_ok + other_429}",
            f"{load:.1f}"]


def run(quick: bool, short: bool = False) -> str:
    return table(
        f"sharing: quota {QUOTA:,}/min, the other integration sends {OTHER:,}/min on the "
        f"same key (sim burst {SIM_BURST}); the worker is configured with the whole quota",
        ["job", "rows", "span s", "requests", "429s", "429 share", "", "other ok/min",
         "left/min", "worker ok/min", "used of left", "", "other's 429s /1000 alone",
         "/1000 with us", "load 1 min"],
        [run_job(job) for job in jobs(quick, short)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="one 10 s job (CI)")
    mode.add_argument("--short", action="store_true",
                      help="the three 30 s jobs of full mode, not the 10-minute one")
    args = parser.parse_args()
    print(run(args.quick, args.short))
