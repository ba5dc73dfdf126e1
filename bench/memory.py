"""Memory: peak RSS of `partoo-bulk run`, `plan` and `report` for a big job against 10,000
rows, each a fresh process (the kernel's own figure for that process, from wait4).

The job file is streamed, the reorder window is bounded and a row's objects are dropped
once its report line is written, so memory should not grow with the job. Issue 23: each
command's peak for 1,000,000 rows within 1.2x of its figure for 10,000 rows ("flat"), and
under 80 MB. Every row is a different conversation (the worst case for `plan`, which
counts the conversations touched more than once).
- `run JOB --yes --quiet` against `min_server.py` with the rate open. A million rows take
  several minutes on a loaded 2-core machine, so the full mode runs 200,000;
  `--run-rows 1000000` runs the million (about 4 minutes here);
- `plan JOB` on the 1,000,000-row job;
- `report R` on a 1,000,000-row report: a real run killed early, its report carried on
  in the format of its own lines (`_common.killed_report`).
--quick: 10,000 against 50,000 rows (run: 2,000 against 10,000, to stay short in CI).

    .venv/bin/python bench/memory.py [--quick] [--run-rows N] [--only run|plan|report]
"""

from __future__ import annotations

import argparse

from _common import (
    MinServer,
    killed_report,
    measure,
    partoo_bulk,
    run_worker,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

BASE_ROWS = 10_000
FLAT, MOST_MB = 1.2, 80.0


def _peak(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    result = measure(cmd, env, timeout_s=7200)
    if result.code not in (0, 1):
        raise RuntimeError(f"{cmd[1:3]}: exit {result.code}: {result.stderr[-500:]}")
    return result.peak_rss_mb, result.wall_s


def run(quick: bool, run_rows: int | None = None, only: str | None = None) -> str:
    big = 50_000 if quick else 1_000_000
    run_base, run_big = (2_000, 10_000) if quick else (BASE_ROWS, 200_000)
    run_big = run_rows or run_big
    out = []
    with workdir() as d, MinServer() as server:
        env = worker_env(server.base_url, 1_000_000, 64, PARTOO_BURST="64")
        cases = [case for case in (("run --yes", run_base, run_big),
                                   ("plan", BASE_ROWS, big), ("report", BASE_ROWS, big))
                 if only is None or case[0].split()[0] == only]
        jobs = {n: write_job(d / f"memory-{n}.csv", n)
                for _, base, rows in cases for n in (base, rows)}

        def run_peak(rows: int) -> tuple[float, float]:
            result = run_worker(jobs[rows], env, timeout_s=7200)
            if result.summary.get("ok") != rows:
                raise RuntimeError(f"worker: {result.summary} (exit {result.code})")
            return result.peak_rss_mb, result.wall_s

        def plan_peak(rows: int) -> tuple[float, float]:
            return _peak([partoo_bulk(), "plan", str(jobs[rows])], env)

        def report_peak(rows: int) -> tuple[float, float]:
            report = d / f"report-{rows}" / "job.report.csv"
            if not report.exists():
                report.parent.mkdir()
                killed_report(jobs[rows], report, env, rows, lambda r: r)
            return _peak([partoo_bulk(), "report", str(report)], env)

        peaks = {"run --yes": run_peak, "plan": plan_peak, "report": report_peak}
        for name, base, rows in cases:
            measure_peak = peaks[name]
            base_mb, base_s = measure_peak(base)
            peak_mb, wall_s = measure_peak(rows)
            ratio = peak_mb / base_mb
            out.append([name, base, base_mb, base_s, rows, peak_mb, wall_s,
                        f"{ratio:.2f}", verdict(ratio <= FLAT and peak_mb < MOST_MB)])
    return table(
        f"memory: peak RSS of each command, fresh processes (target: <= {FLAT}x the "
        f"{BASE_ROWS:,}-row figure and < {MOST_MB:g} MB at 1,000,000 rows)",
        ["command", "base rows", "base MB", "base s", "rows", "peak RSS MB", "wall s",
         "ratio", ""], out)




if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--run-rows", type=int, help="rows of the big run (default 200,000)")
    parser.add_argument("--only", choices=("run", "plan", "report"),
                        help="measure one command")
    args = parser.parse_args()
    print(run(args.quick, args.run_rows, args.only))
