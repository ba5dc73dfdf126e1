"""Overhead: with no rate limit, how close does the worker come to a bare aiohttp loop?

The simulator runs unlimited in its own process. Side by side, in the same run, against
the same simulator, the same PATCHes (distinct conversations, all answered 200):
- baseline: `bare_loop.py`, aiohttp + a semaphore of 64, nothing else;
- worker, meter open: `partoo-bulk run JOB --yes --quiet` with PARTOO_CONCURRENCY=64, the
  highest rate the settings accept (PARTOO_RATE_PER_MINUTE=1000000, ~16,700/s) and
  PARTOO_BURST=64, so the meter never holds a request back: "no rate limit" as far as
  the worker's settings go. This row is the one held to the target;
- worker, default burst (1): the same rate, but permits spaced evenly 60 us apart, as the
  worker paces by default. Shown so the cost of even spacing is in plain view: answers
  arrive in bunches, and each bunch's next requests then queue at the meter.
Requests/second are each side's own figure over its sending phase (the worker's summary
line; the bare loop's timer), so Python start-up and the plan pass are left out; the
whole-process figure is shown too. Rounds alternate; the median is compared.
Target: worker (meter open) >= 80% of the baseline.

    .venv/bin/python bench/overhead.py [--quick]
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field

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


@dataclass
class Side:
    """One client's figures over the rounds."""

    name: str
    rates: list[float] = field(default_factory=list)  # req/s over the sending phase
    process: list[float] = field(default_factory=list)  # req/s over the whole process
    cpu_us: list[float] = field(default_factory=list)  # CPU time per request

    def row(self, rows: int, rounds: int, baseline: float | None) -> list[object]:
        median = statistics.median(self.rates)
        ratio = "1.00" if baseline is None else f"{median / baseline:.2f}"
        return [self.name, rows, rounds, median, max(self.rates),
                statistics.median(self.process), statistics.median(self.cpu_us), ratio]


def run(quick: bool) -> str:
    rows, rounds = (5_000, 2) if quick else (50_000, 3)
    bare = Side("bare aiohttp + semaphore")
    open_meter = Side(f"partoo-bulk run, burst {CONCURRENCY}")
    default = Side("partoo-bulk run, burst 1 (default)")
    with workdir() as d, SimProcess(None, conversations=rows) as sim:
        job = write_job(d / "overhead.csv", rows)
        workers = [(open_meter, worker_env(sim.base_url, MAX_RATE_PER_MINUTE, CONCURRENCY,
                                           PARTOO_BURST=str(CONCURRENCY))),
                   (default, worker_env(sim.base_url, MAX_RATE_PER_MINUTE, CONCURRENCY))]
        for _ in range(rounds):
            done = measure([PYTHON, str(REPO / "bench" / "bare_loop.py"), "--base-url",
                            sim.base_url, "--rows", str(rows), "--concurrency",
                            str(CONCURRENCY), "--distinct-ids", str(rows)])
            figures = json.loads(done.stdout)
            if figures["ok"] != rows:
                raise RuntimeError(f"bare loop: {figures['ok']} of {rows} requests ok")
            bare.rates.append(figures["per_s"])
            bare.process.append(rows / done.wall_s)
            bare.cpu_us.append(done.cpu_s / rows * 1e6)
            for side, env in workers:
                worker = run_worker(job, env)
                if worker.summary.get("ok") != rows:
                    raise RuntimeError(f"worker: {worker.summary} (exit {worker.code})")
                side.rates.append(worker.summary["rate"] / 60)
                side.process.append(rows / worker.wall_s)
                side.cpu_us.append(worker.cpu_s / rows * 1e6)
    baseline = statistics.median(bare.rates)
    target_ratio = statistics.median(open_meter.rates) / baseline
    return table(
        f"overhead: no rate limit, concurrency {CONCURRENCY}, simulator in another process "
        "(target: worker with the meter open >= 0.80 x baseline)",
        ["client", "requests", "rounds", "median req/s", "best req/s",
         "req/s whole process", "CPU us/request", "ratio", ""],
        [[*bare.row(rows, rounds, None), ""],
         [*open_meter.row(rows, rounds, baseline), verdict(target_ratio >= 0.8)],
         [*default.row(rows, rounds, baseline), "(info)"]])


if __name__ == "__main__":
    print(run(quick_flag()))
