"""Start-up: how long a user waits before partoo-bulk does anything, in fresh processes.

Two figures, each against `python -c pass` measured alternately in the same run:
- `partoo-bulk --help` and `run --help`: what our imports and argument parsing cost at
  every command;
- process start -> first request of `partoo-bulk run JOB --yes --quiet` on a 500-row
  job, the issue 23 figure (bar <= 0.35 s, goal <= 0.25 s). The simulator notes the
  arrival of every /v2 request on CLOCK_MONOTONIC, the clock this script reads just
  before it starts the process, so the figure is the server's own view. The least
  aiohttp client that sends one PATCH (`first_request.py`) is shown beside it: the
  floor any aiohttp client pays.
Medians over the rounds, and the best.

    .venv/bin/python bench/startup.py [--quick]
"""

from __future__ import annotations

import statistics

from _common import (
    PYTHON,
    REPO,
    SimProcess,
    first_request_s,
    measure,
    partoo_bulk,
    quick_flag,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

JOB_ROWS = 500
BAR_S, GOAL_S = 0.35, 0.25


def _row(name: str, times: list[float], base: float) -> list[object]:
    median = statistics.median(times)
    return [name, len(times), median * 1000, min(times) * 1000, (median - base) * 1000,
            f"{median / base:.1f}x"]


def run(quick: bool) -> str:
    rounds = 5 if quick else 20
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "partoo-bulk --help": [partoo_bulk(), "--help"],
        "partoo-bulk run --help": [partoo_bulk(), "run", "--help"],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    firsts: dict[str, list[float]] = {"bare aiohttp, one PATCH": [],
                                      f"partoo-bulk run, {JOB_ROWS} rows, --yes": []}
    with workdir() as d, SimProcess(None, conversations=JOB_ROWS) as sim:
        job = write_job(d / "startup.csv", JOB_ROWS)
        env = worker_env(sim.base_url, 1_000_000, 64)
        worker = [partoo_bulk(), "run", str(job), "--yes", "--quiet", "--overwrite"]
        bare = [PYTHON, str(REPO / "bench" / "first_request.py"), sim.base_url]
        for _ in range(rounds):
            for name, cmd in commands.items():
                result = measure(cmd)
                if result.code != 0:
                    raise RuntimeError(f"{name}: exit {result.code}: {result.stderr[-500:]}")
                walls[name].append(result.wall_s)
            for name, cmd in zip(firsts, (bare, worker), strict=True):
                firsts[name].append(first_request_s(sim, cmd, env))
    base = statistics.median(walls["python -c pass"])
    rows = [[*_row(name, times, base), ""] for name, times in walls.items()]
    for name, times in firsts.items():
        judged = name.startswith("partoo-bulk")
        median = statistics.median(times)
        mark = (verdict(median <= BAR_S) + (" (goal)" if median <= GOAL_S else "")
                if judged else "(floor)")
        rows.append([*_row(name + " -> first request", times, base), mark])
    return table(
        "start-up: fresh processes, wall time in ms (to exit, or to the first request as "
        f"the simulator saw it; target for run: <= {BAR_S * 1000:.0f} ms, goal "
        f"<= {GOAL_S * 1000:.0f} ms)",
        ["command", "runs", "median ms", "best ms", "over python ms", "ratio", ""], rows)


if __name__ == "__main__":
    print(run(quick_flag()))
