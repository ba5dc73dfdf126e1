"""`partoo-bulk report R` on a 1,000,000-row report: wall time and CPU of the whole
process, against a bare Python process that reads the same file with `csv.reader` and
counts its outcomes (the least any reader of the report pays), in the same run,
alternating. Issue 23: <= 5 s (goal <= 2 s).

The report is what a run writes: a real run killed early, its report then carried on to
all the rows in the format of its own lines (`_common.killed_report`). With `--json`
too, and `--failed OUT` (which reads the report for the retry job as well).
--quick: 50,000 rows.

    .venv/bin/python bench/report_speed.py [--quick]
"""

from __future__ import annotations

import statistics

from _common import (
    PYTHON,
    MinServer,
    killed_report,
    measure,
    partoo_bulk,
    quick_flag,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

BAR_S, GOAL_S = 5.0, 2.0
_BARE = ("import collections, csv, sys\n"
         "with open(sys.argv[1], encoding='utf-8', newline='') as f:\n"
         "    r = csv.reader(f); next(r)\n"
         "    print(collections.Counter(cells[4] for cells in r))\n")


def run(quick: bool) -> str:
    rows, rounds = (50_000, 2) if quick else (1_000_000, 3)
    with workdir() as d, MinServer() as server:
        env = worker_env(server.base_url, 1_000_000, 64, PARTOO_BURST="64")
        job = write_job(d / "report.csv", rows)
        report = d / "r" / "report.report.csv"
        report.parent.mkdir()
        killed_report(job, report, env, rows, lambda r: r)
        size_mb = report.stat().st_size / 1e6
        commands = {
            "bare csv.reader + Counter (baseline)": [PYTHON, "-c", _BARE, str(report)],
            "partoo-bulk report R": [partoo_bulk(), "report", str(report)],
            "partoo-bulk report R --json": [partoo_bulk(), "report", str(report), "--json"],
            "partoo-bulk report R --failed OUT": [partoo_bulk(), "report", str(report),
                                                  "--failed", str(d / "retry.csv"),
                                                  "--overwrite"],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, cmd in commands.items():
                result = measure(cmd, env)
                if result.code not in (0, 1):
                    raise RuntimeError(f"{name}: exit {result.code}: {result.stderr[-500:]}")
                walls[name].append(result.wall_s)
                cpus[name].append(result.cpu_s)
    base = statistics.median(walls["bare csv.reader + Counter (baseline)"])
    out = []
    for name in commands:
        median = statistics.median(walls[name])
        judged = name == "partoo-bulk report R"
        mark = (verdict(median <= BAR_S) + (" (goal)" if median <= GOAL_S else "")
                if judged else "")
        out.append([name, rounds, median, min(walls[name]), statistics.median(cpus[name]),
                    f"{median / base:.2f}", mark])
    return table(f"report: {rows:,}-row report ({size_mb:.1f} MB), fresh processes (target "
                 f"<= {BAR_S:g} s, goal <= {GOAL_S:g} s)",
                 ["command", "rounds", "median s", "best s", "CPU s", "ratio", ""], out)


if __name__ == "__main__":
    print(run(quick_flag()))
