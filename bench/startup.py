"""Start-up: how long a user waits before partoo-bulk does anything, in fresh processes.

Measured on the wheel, as a user installs it: the script builds this repository's wheel
(or `--source DIR`'s: another checkout, for a before/after) and installs it, bytecode
compiled, into a venv of its own (`_common.installed`); every command below runs with
that venv's python, the baseline and the floor included.

Figures, each against `python -c pass` measured alternately in the same run:
- `partoo-bulk --help` and `run --help`: what our imports and argument parsing cost at
  every command;
- process start -> first request of `partoo-bulk run JOB --yes --quiet` on a 500-row
  job at the default rate and concurrency, as a user runs it (killed once its first
  request arrived), the issue 23 figure (bar <= 0.35 s, goal <= 0.25 s). The simulator
  notes the arrival of every /v2 request on CLOCK_MONOTONIC, the clock this script
  reads just before it starts the process, so the figure is the server's own view. The
  least aiohttp client that sends one PATCH (`first_request.py`) is shown beside it:
  what any aiohttp client pays (its two default TLS contexts loading the CA bundle
  included, as partoo-bulk's do: aiohttp is imported as it is), and the ratio to it;
- for information, the same job at 1,000,000/min and concurrency 64: to its first
  request, and to its exit (its 500 rows sent and reported: start-up work moved after
  the first request would show there). At that rate the engine starts 64 rows at once
  and their 64 connections are opened in the same turns of the event loop as the
  first, which goes out once they all have been started (40-60 ms here); at a quota
  (300/min by default) rows start as permits come, one at a time.
Medians over the rounds, and the best. The CPU seconds (user + system) of the floor's
process and of the judged run (killed within 10 ms of its first request) are shown
too: on a shared machine they move much less than wall times do.

    .venv/bin/python bench/startup.py [--quick] [--source DIR]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from _common import (
    REPO,
    SimProcess,
    children_cpu_s,
    first_request_and_exit_s,
    installed,
    measure,
    partoo_bulk,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

JOB_ROWS = 500
BAR_S, GOAL_S = 0.35, 0.25
FLOOR = "bare aiohttp, one PATCH -> first request"
RUN = f"partoo-bulk run, {JOB_ROWS} rows, --yes, default rate and concurrency"
OPEN = f"partoo-bulk run, {JOB_ROWS} rows, --yes, at 1,000,000/min, concurrency 64"


def _row(name: str, times: list[float], base: float, floor: float | None,
         mark: str = "") -> list[object]:
    median = statistics.median(times)
    return [name, len(times), median * 1000, min(times) * 1000, (median - base) * 1000,
            f"{median / base:.1f}x", "" if floor is None else f"{median / floor:.2f}x", mark]


def run(quick: bool, source: Path = REPO) -> str:
    rounds = 5 if quick else 20
    with installed(source) as python, workdir() as d, \
            SimProcess(None, conversations=JOB_ROWS) as sim:
        script = partoo_bulk(python)
        env = worker_env(sim.base_url, 1_000_000, 64)
        defaults = {k: v for k, v in worker_env(sim.base_url, 1, None).items()
                    if k != "PARTOO_RATE_PER_MINUTE"}
        commands = {
            "python -c pass": [python, "-c", "pass"],
            "partoo-bulk --help": [script, "--help"],
            "partoo-bulk run --help": [script, "run", "--help"],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        firsts: dict[str, list[float]] = {FLOOR: [], RUN: [], OPEN: []}
        exits: list[float] = []
        cpus: dict[str, list[float]] = {FLOOR: [], RUN: []}
        job = write_job(d / "startup.csv", JOB_ROWS)
        worker = [script, "run", str(job), "--yes", "--quiet", "--overwrite"]
        bare = [python, str(REPO / "bench" / "first_request.py"), sim.base_url]
        for _ in range(rounds):
            for name, cmd in commands.items():
                result = measure(cmd, env)
                if result.code != 0:
                    raise RuntimeError(f"{name}: exit {result.code}: {result.stderr[-500:]}")
                walls[name].append(result.wall_s)
            cpu = children_cpu_s()
            firsts[FLOOR].append(first_request_and_exit_s(sim, bare, env)[0])
            cpus[FLOOR].append(children_cpu_s() - cpu)
            cpu = children_cpu_s()
            firsts[RUN].append(first_request_and_exit_s(sim, worker, defaults,
                                                        kill_on_first=True)[0])
            cpus[RUN].append(children_cpu_s() - cpu)
            first, exited = first_request_and_exit_s(sim, worker, env)
            firsts[OPEN].append(first)
            exits.append(exited)
    base = statistics.median(walls["python -c pass"])
    floor = statistics.median(firsts[FLOOR])
    rows = [_row(name, times, base, None) for name, times in walls.items()]
    rows.append(_row(FLOOR, firsts[FLOOR], base, floor, "(floor)"))
    median = statistics.median(firsts[RUN])
    mark = verdict(median <= BAR_S) + (" (goal)" if median <= GOAL_S else "")
    rows.append(_row(RUN + " -> first request", firsts[RUN], base, floor, mark))
    rows.append(_row("bare aiohttp, one PATCH, CPU to its exit", cpus[FLOOR], base, None,
                     "(floor, CPU)"))
    rows.append(_row(RUN + " -> first request, CPU", cpus[RUN], base, None,
                     f"{statistics.median(cpus[RUN]) / statistics.median(cpus[FLOOR]):.2f}x "
                     "the floor's CPU"))
    rows.append(_row(OPEN + " -> first request", firsts[OPEN], base, floor, "(info)"))
    rows.append(_row(OPEN + " -> exit", exits, base, None, "(whole process)"))
    return table(
        f"start-up of the installed wheel ({'this repository' if source == REPO else source})"
        ": fresh processes, wall time in ms (to exit, or to the first request as the "
        f"simulator saw it; target for run: <= {BAR_S * 1000:.0f} ms, goal "
        f"<= {GOAL_S * 1000:.0f} ms)",
        ["command", "runs", "median ms", "best ms", "over python ms", "vs python",
         "vs floor", ""], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5 rounds, not 20 (CI)")
    parser.add_argument("--source", type=Path, default=REPO,
                        help="the checkout whose wheel to measure (default: this one)")
    args = parser.parse_args()
    print(run(args.quick, args.source.resolve()))
