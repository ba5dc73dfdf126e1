"""Memory: peak RSS of `partoo-bulk run` for a big job against one ten times smaller.

The job file is streamed, the reorder window is bounded and a row's objects are dropped
once its report line is written, so memory should not grow with the job: peak RSS (the
kernel's own figure for the worker process, from wait4) for 1,000,000 rows stays under
150 MB and within 1.2x of the figure for 100,000 rows. The simulator runs unlimited with
100,000 conversations (a bigger job visits them again, never within the window).
--quick: 3,000 against 30,000 rows (the same ratio, a fraction of the time).

    .venv/bin/python bench/memory.py [--quick]
"""

from __future__ import annotations

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


def run(quick: bool) -> str:
    small, big = (3_000, 30_000) if quick else (100_000, 1_000_000)
    rows_out = []
    peaks: dict[int, float] = {}
    with workdir() as d, SimProcess(None, conversations=big) as sim:
        env = worker_env(sim.base_url, 1_000_000, 64)
        for rows in (small, big):
            job = write_job(d / f"memory-{rows}.csv", rows)
            size_mb = job.stat().st_size / 1e6
            result = run_worker(job, env, timeout_s=7200)
            if result.summary.get("ok") != rows:
                raise RuntimeError(f"worker: {result.summary} (exit {result.code})")
            peaks[rows] = result.peak_rss_mb
            report_mb = job.with_name(job.stem + ".report.csv").stat().st_size / 1e6
            rows_out.append([rows, size_mb, report_mb, result.wall_s,
                             result.summary["rate"] / 60, result.peak_rss_mb])
    ratio = peaks[big] / peaks[small]
    rows_out[0] += ["1.00", ""]
    rows_out[1] += [f"{ratio:.2f}",
                    verdict(peaks[big] < 150 and ratio <= 1.2)]
    return table(
        "memory: peak RSS of the worker process (target: < 150 MB and <= 1.2x the smaller "
        "job)",
        ["rows", "job MB", "report MB", "wall s", "req/s", "peak RSS MB", "ratio", ""],
        rows_out)


if __name__ == "__main__":
    print(run(quick_flag()))
