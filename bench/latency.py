"""Latency: does the worker use the whole quota when the API is slow, at default settings?

Little's law: requests in flight = rate x latency. A 1,200/min quota (20/s) against an API
answering in 500 ms needs 10 requests out at once; 3,000/min at 3 s needs 150. The
simulator answers every request `latency` seconds late and enforces the quota itself
(token bucket, small burst, so an overshoot shows as 429s). The worker runs as a user
runs it, with nothing but the key, the URL and the rate set: concurrency is its default.

Figures, per case:
- used (sending): the worker's requests per minute between the first and the last one the
  server saw, against the quota;
- used (process): rows / quota against the whole `partoo-bulk run` process (start-up,
  plan and the last reply's latency included), what the user waits for; the issue's two
  cases are judged on it (bar >= 0.95, goal >= 0.98);
- the most requests the server held at once, and Little's law's figure for the case;
- 429s (the quota was the worker's alone: any 429 is an overshoot);
- what the worker said about its concurrency (summary JSON), e.g. that its cap held it
  back.

--quick (CI): the issue's two cases, 5 s each. Full: those two for 60 s, then the grid
(50 ms, 300 ms, 1 s, 3 s x 300, 1,200, 3,000/min) for 20 s each.

    .venv/bin/python bench/latency.py [--quick]
"""

from __future__ import annotations

from dataclasses import dataclass

from _common import (
    SimProcess,
    quick_flag,
    run_worker,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

SIM_BURST = 2


@dataclass(frozen=True)
class Case:
    rate_per_minute: int
    latency_s: float
    seconds: float
    judged: bool = False  # one of the issue's cases: held to its bar


ISSUE_CASES = ((1_200, 0.5), (3_000, 0.3))
GRID = [(rate, latency) for latency in (0.05, 0.3, 1.0, 3.0) for rate in (300, 1_200, 3_000)]


def cases(quick: bool) -> list[Case]:
    if quick:
        return [Case(rate, latency, 5.0) for rate, latency in ISSUE_CASES]
    return ([Case(rate, latency, 60.0, judged=True) for rate, latency in ISSUE_CASES]
            + [Case(rate, latency, 20.0) for rate, latency in GRID])


def concurrency_note(summary: dict) -> str:
    """What the worker's summary JSON says about its concurrency ('-' if nothing)."""
    info = summary.get("concurrency")
    if not isinstance(info, dict):
        return "-"
    note = f"cap {info.get('cap')}, most {info.get('most_in_flight')}"
    if info.get("cap_reached"):
        note += ", CAP REACHED"
    return note


def run_case(case: Case) -> list[object]:
    rows = max(10, round(case.rate_per_minute / 60 * case.seconds))
    with workdir() as d, SimProcess(case.rate_per_minute, SIM_BURST, conversations=rows,
                                    latency_s=case.latency_s) as sim:
        job = write_job(d / "latency.csv", rows)
        result = run_worker(job, worker_env(sim.base_url, case.rate_per_minute, None))
        arrivals = sim.arrivals()
        most = sim.most_in_flight()
    if result.code not in (0, 1):
        raise RuntimeError(f"worker: exit {result.code}: {result.stderr[-500:]}")
    times = [at for at, _, ours in arrivals if ours]
    span = max(times) - min(times) if len(times) > 1 else 0.0
    sending = (len(times) - 1) / span * 60 / case.rate_per_minute if span else 0.0
    process = rows / (case.rate_per_minute / 60) / result.wall_s
    throttled = sum(1 for _, status, ours in arrivals if ours and status == 429)
    little = case.rate_per_minute / 60 * case.latency_s
    judged = (verdict(process >= 0.95) + (" (goal)" if process >= 0.98 else "")
              if case.judged else "")
    return [f"{case.rate_per_minute:,}/min", f"{case.latency_s * 1000:g} ms", rows,
            result.wall_s, f"{sending:.3f}", f"{process:.3f}", judged,
            most, f"{little:.1f}", throttled, concurrency_note(result.summary_json)]


def run(quick: bool) -> str:
    rows_out = [run_case(case) for case in cases(quick)]
    return table(
        "latency: the worker at default settings, the simulator answering late and "
        "enforcing the quota (token bucket, burst 2); the issue's cases judged on the "
        "whole process (bar >= 0.95, goal >= 0.98)",
        ["quota", "latency", "rows", "wall s", "used (sending)", "used (process)", "",
         "most in flight", "rate x latency", "429s", "concurrency (summary JSON)"],
        rows_out)


if __name__ == "__main__":
    print(run(quick_flag()))
