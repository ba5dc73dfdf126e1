"""Overhead: with the rate open, how much CPU does the worker spend per request, against a
bare aiohttp loop sending the same PATCHes?

Two servers, each in its own process, unlimited: `min_server.py` (no logic: every PATCH
is a success, so the client's cost shows) and the simulator (`sim_server.py`). Against
each, in the same run, alternating rounds, the same 20,000 PATCHes (distinct
conversations, all answered 200):
- baseline: `bare_loop.py`, aiohttp + a semaphore of 64, the answer checked, nothing else;
- worker, meter open: `partoo-bulk run JOB --yes --quiet` with PARTOO_CONCURRENCY=64, the
  highest rate the settings accept (PARTOO_RATE_PER_MINUTE=1000000, ~16,700/s) and
  PARTOO_BURST=64, so the meter never holds a request back ("rate open"). The row held
  to the target;
- worker, default burst (1): the same, with permits spaced evenly 60 us apart, as the
  worker paces by default (shown for information).
Figures, medians over the rounds:
- client CPU seconds per 1,000 requests (user + system, `wait4`), the whole process:
  Python start-up, the plan pass and the report included, as a user runs it;
- server CPU seconds per 1,000 requests, over the same client run (from /proc);
- requests/second over the sending phase (the worker's summary line, the bare loop's
  timer) and over the whole process;
- the ratio: the bare loop's client CPU per request over the worker's (whole process;
  1.0 = as cheap as the bare loop). Target (issue 15): >= 0.90 against the minimal
  server (bar 0.80). The sending-phase ratio (requests/second) is shown beside it.

    .venv/bin/python bench/overhead.py [--quick]
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field

from _common import (
    PYTHON,
    REPO,
    MinServer,
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
    """One client's figures over the rounds, against one server."""

    name: str
    rates: list[float] = field(default_factory=list)  # req/s over the sending phase
    process: list[float] = field(default_factory=list)  # req/s over the whole process
    cpu_ms: list[float] = field(default_factory=list)  # client CPU s per 1,000 requests
    server_ms: list[float] = field(default_factory=list)  # server CPU s per 1,000

    def add(self, rows: int, per_s: float, wall_s: float, cpu_s: float,
            server_cpu_s: float) -> None:
        self.rates.append(per_s)
        self.process.append(rows / wall_s)
        self.cpu_ms.append(cpu_s / rows * 1000)
        self.server_ms.append(server_cpu_s / rows * 1000)

    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)

    def rate(self) -> float:
        return statistics.median(self.rates)


def bare_round(sim: SimProcess, rows: int) -> tuple[float, float, float, float]:
    before = sim.cpu_s()
    done = measure([PYTHON, str(REPO / "bench" / "bare_loop.py"), "--base-url",
                    sim.base_url, "--rows", str(rows), "--concurrency", str(CONCURRENCY),
                    "--distinct-ids", str(rows)])
    server = sim.cpu_s() - before
    figures = json.loads(done.stdout)
    if figures["ok"] != rows:
        raise RuntimeError(f"bare loop: {figures['ok']} of {rows} requests ok")
    return figures["per_s"], done.wall_s, done.cpu_s, server


def worker_round(sim: SimProcess, job, env: dict[str, str],
                 rows: int) -> tuple[float, float, float, float]:
    before = sim.cpu_s()
    worker = run_worker(job, env)
    server = sim.cpu_s() - before
    if worker.summary.get("ok") != rows:
        raise RuntimeError(f"worker: {worker.summary} (exit {worker.code})")
    return worker.summary["rate"] / 60, worker.wall_s, worker.cpu_s, server


def measure_server(server: SimProcess, rows: int, rounds: int, d) -> list[Side]:
    bare = Side("bare aiohttp + semaphore")
    open_meter = Side(f"partoo-bulk run, burst {CONCURRENCY}")
    default = Side("partoo-bulk run, burst 1 (default)")
    with server as sim:
        job = write_job(d / "overhead.csv", rows)
        workers = [(open_meter, worker_env(sim.base_url, MAX_RATE_PER_MINUTE, CONCURRENCY,
                                           PARTOO_BURST=str(CONCURRENCY))),
                   (default, worker_env(sim.base_url, MAX_RATE_PER_MINUTE, CONCURRENCY))]
        for _ in range(rounds):
            bare.add(rows, *bare_round(sim, rows))
            for side, env in workers:
                side.add(rows, *worker_round(sim, job, env, rows))
    return [bare, open_meter, default]


def run(quick: bool) -> str:
    rows = 5_000 if quick else 20_000
    plan = [("minimal server", MinServer(), 2 if quick else 5),
            ("simulator", SimProcess(None, conversations=rows), 1 if quick else 3)]
    out = []
    with workdir() as d:
        for server_name, server, rounds in plan:
            bare, *workers = measure_server(server, rows, rounds, d)
            for side in (bare, *workers):
                ratio = bare.cpu() / side.cpu()
                rate_ratio = side.rate() / bare.rate()
                judged = side is workers[0] and server_name == "minimal server"
                mark = (verdict(ratio >= 0.80) + (" (goal)" if ratio >= 0.90 else "")
                        if judged else "")
                out.append([server_name, side.name, rows, rounds, side.cpu(),
                            statistics.median(side.server_ms), side.rate(),
                            statistics.median(side.process), f"{ratio:.2f}", mark,
                            f"{rate_ratio:.2f}"])
    return table(
        f"overhead: rate open, concurrency {CONCURRENCY}, each server in its own process; "
        "ratio = bare loop's client CPU per request / this client's (whole process; target "
        ">= 0.90 against the minimal server, bar 0.80)",
        ["server", "client", "requests", "rounds", "client CPU s/1000", "server CPU s/1000",
         "req/s sending", "req/s process", "CPU ratio", "", "req/s ratio"],
        out)


if __name__ == "__main__":
    print(run(quick_flag()))
