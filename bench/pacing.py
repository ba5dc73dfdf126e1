"""Pacing: does `partoo-bulk run` use the whole quota and nothing more?

For 300, 3,000 and 60,000 requests/minute, the simulator enforces the same rate (a token
bucket per key with a small burst) and the worker is configured with that rate, as a user
would (PARTOO_RATE_PER_MINUTE, default burst 1). Figures, per rate:
- wall: the `partoo-bulk run` process from start to exit (start-up and plan included),
  against the ideal N / rate; target <= 1.02 x ideal + 1 s;
- 429s answered by the server (target 0: the worker is the only client);
- the most requests the server saw in any 1-second window; target <= rate/60 + burst.

    .venv/bin/python bench/pacing.py [--quick]
"""

from __future__ import annotations

from dataclasses import dataclass

from _common import (
    SimProcess,
    max_in_window,
    quick_flag,
    run_worker,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)


@dataclass(frozen=True)
class Case:
    rate_per_minute: int
    rows_quick: int
    rows_full: int
    sim_burst: int  # the server's bucket: "a small burst"
    concurrency: int


CASES = (
    Case(300, 30, 300, sim_burst=2, concurrency=8),
    Case(3_000, 150, 3_000, sim_burst=2, concurrency=8),
    Case(60_000, 3_000, 60_000, sim_burst=10, concurrency=32),
)


def run(quick: bool) -> str:
    rows_out = []
    for case in CASES:
        rows = case.rows_quick if quick else case.rows_full
        with workdir() as d, SimProcess(case.rate_per_minute, case.sim_burst,
                                        conversations=rows) as sim:
            job = write_job(d / "pacing.csv", rows)
            env = worker_env(sim.base_url, case.rate_per_minute, case.concurrency)
            result = run_worker(job, env)
            arrivals = sim.arrivals()
        times = [at for at, _, _ in arrivals]
        ideal = rows / (case.rate_per_minute / 60)
        limit = 1.02 * ideal + 1
        throttled = sum(1 for _, status, _ in arrivals if status == 429)
        window = max_in_window(times)
        window_limit = case.rate_per_minute / 60 + case.sim_burst
        span = max(times) - min(times) if times else 0.0
        rows_out.append([
            f"{case.rate_per_minute:,}/min", rows, case.sim_burst, case.concurrency,
            ideal, result.wall_s, result.wall_s / ideal, limit, verdict(result.wall_s <= limit),
            span, throttled, verdict(throttled == 0),
            window, f"{window_limit:g}", verdict(window <= window_limit),
        ])
    return table(
        "pacing: worker alone, simulator enforcing the same rate (token bucket, small burst)",
        ["rate", "rows", "sim burst", "conc", "ideal s", "wall s", "wall/ideal",
         "target s", "", "send span s", "429s", "", "max in 1 s", "target", ""],
        rows_out)


if __name__ == "__main__":
    print(run(quick_flag()))
