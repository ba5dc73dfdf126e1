"""Overhead: with no rate limit, how close does the worker come to a bare aiohttp loop?

The simulator runs unlimited in its own process. Side by side, in the same run, against
the same simulator, the same PATCHes (distinct conversations, all answered 200):
- baseline: `bare_loop.py`, aiohttp + a semaphore of 64, nothing else;
- worker: `partoo-bulk run JOB --yes --quiet` with PARTOO_CONCURRENCY=64 and the highest
  rate the settings accept (PARTOO_RATE_PER_MINUTE=1000000, ~16,700/s), so the meter is
  not the limit.
Requests/second are each side's own figure over its sending phase (the worker's summary
line; the bare loop's timer), so Python start-up and the plan pass are left out; the
whole-process figure is shown too. Rounds alternate; the median is compared.
Target: worker >= 80% of the baseline.

    .venv/bin/python bench/overhead.py [--quick]
"""

from __future__ import annotations

import json
import statistics

from _common import (
    PYTHON,
    REPO,
    SimProcess,
    measure,
    quick_flag,
    run_worker,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

CONCURRENCY = 64
MAX_RATE_PER_MINUTE = 1_000_000  # the highest PARTOO_RATE_PER_MINUTE accepts


def run(quick: bool) -> str:
    rows, rounds = (5_000, 2) if quick else (50_000, 3)
    bare_rates: list[float] = []
    worker_rates: list[float] = []
    bare_process: list[float] = []
    worker_process: list[float] = []
    worker_cpu: list[float] = []
    bare_cpu: list[float] = []
    with workdir() as d, SimProcess(None, conversations=rows) as sim:
        job = write_job(d / "overhead.csv", rows)
        env = worker_env(sim.base_url, MAX_RATE_PER_MINUTE, CONCURRENCY)
        for _ in range(rounds):
            bare = measure([PYTHON, str(REPO / "bench" / "bare_loop.py"), "--base-url",
                            sim.base_url, "--rows", str(rows), "--concurrency",
                            str(CONCURRENCY), "--distinct-ids", str(rows)])
            figures = json.loads(bare.stdout)
            if figures["ok"] != rows:
                raise RuntimeError(f"bare loop: {figures['ok']} of {rows} requests ok")
            bare_rates.append(figures["per_s"])
            bare_process.append(rows / bare.wall_s)
            bare_cpu.append(bare.cpu_s / rows * 1e6)
            worker = run_worker(job, env)
            if worker.summary.get("ok") != rows:
                raise RuntimeError(f"worker: {worker.summary} (exit {worker.code})")
            worker_rates.append(worker.summary["rate"] / 60)
            worker_process.append(rows / worker.wall_s)
            worker_cpu.append(worker.cpu_s / rows * 1e6)
    bare_median = statistics.median(bare_rates)
    worker_median = statistics.median(worker_rates)
    ratio = worker_median / bare_median
    rows_out = [
        ["bare aiohttp + semaphore", rows, rounds, bare_median, max(bare_rates),
         statistics.median(bare_process), statistics.median(bare_cpu), "1.00", ""],
        ["partoo-bulk run", rows, rounds, worker_median, max(worker_rates),
         statistics.median(worker_process), statistics.median(worker_cpu),
         f"{ratio:.2f}", verdict(ratio >= 0.80)],
    ]
    return table(
        f"overhead: no rate limit, concurrency {CONCURRENCY}, simulator in another process "
        "(target: worker >= 0.80 x baseline)",
        ["client", "requests", "rounds", "median req/s", "best req/s",
         "req/s whole process", "CPU us/request", "ratio", ""],
        rows_out)


if __name__ == "__main__":
    print(run(quick_flag()))
