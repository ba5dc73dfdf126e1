"""Resume: a 1,000,000-row report killed at 50%, the time to the first new request.

A real run of the job is killed early (its side files: the meta, the job's pinned copy);
its report is then carried on to the first half of the rows in the format of its own
lines (`_common.killed_report`), so it is what a run killed at 50% leaves. Then, fresh
processes, against `min_server.py` (which notes each request's arrival):
- the figure: `partoo-bulk run JOB --report R --resume --yes --quiet`, from its start to
  its first request (the server's clock), the process killed once it arrived, the
  killed report restored before each round;
- the baseline, in the same run: `partoo-bulk run JOB --yes` of the same job, fresh (no
  report), to its first request: start-up and the job's checks, without the resume.
Issue 23: <= 10 s (goal <= 3 s). --quick: 20,000 rows (killed at 10,000).

    .venv/bin/python bench/resume.py [--quick]
"""

from __future__ import annotations

import shutil
import statistics

from _common import (
    MinServer,
    first_request_s,
    killed_report,
    partoo_bulk,
    quick_flag,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

BAR_S, GOAL_S = 10.0, 3.0


def run(quick: bool) -> str:
    rows, rounds = (20_000, 2) if quick else (1_000_000, 3)
    with workdir() as d, MinServer() as server:
        env = worker_env(server.base_url, 1_000_000, 64, PARTOO_BURST="64")
        job = write_job(d / "resume.csv", rows)
        pristine, work = d / "killed", d / "work"
        pristine.mkdir()
        killed_report(job, pristine / "resume.report.csv", env, rows // 2, lambda r: r)
        report_mb = (pristine / "resume.report.csv").stat().st_size / 1e6
        resume_cmd = [partoo_bulk(), "run", str(job), "--report",
                      str(work / "resume.report.csv"), "--resume", "--yes", "--quiet"]
        fresh_cmd = [partoo_bulk(), "run", str(job), "--report", str(d / "fresh.csv"),
                     "--overwrite", "--yes", "--quiet"]
        fresh, resumed = [], []
        for _ in range(rounds):
            fresh.append(first_request_s(server, fresh_cmd, env, kill_on_first=True))
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(pristine, work)
            resumed.append(first_request_s(server, resume_cmd, env, kill_on_first=True))
    base = statistics.median(fresh)
    median = statistics.median(resumed)
    mark = verdict(median <= BAR_S) + (" (goal)" if median <= GOAL_S else "")
    return table(
        f"resume: {rows:,}-row job, report killed at 50% ({report_mb:.1f} MB), process start "
        f"-> first new request (target <= {BAR_S:g} s, goal <= {GOAL_S:g} s)",
        ["run", "rows kept", "rounds", "median s", "best s", "ratio", ""],
        [["fresh run, same job (baseline)", 0, rounds, base, min(fresh), "1.00", ""],
         ["--resume", rows // 2, rounds, median, min(resumed), f"{median / base:.2f}",
          mark]])


if __name__ == "__main__":
    print(run(quick_flag()))
