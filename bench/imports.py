"""Imports per command: which heavy libraries `partoo-bulk plan JOB`, `report R`,
`--help` and `run JOB --yes` load, how many modules, and what the command costs as a
fresh process (wall time), against `python -c pass` measured in the same run.

Issue 23: no aiohttp for plan, report and --help (ideally no pydantic). The modules are
read by a probe that runs the CLI's `main` in a fresh interpreter and prints
`sys.modules` at the end (the same as tests/e2e/test_imports.py asserts).

    .venv/bin/python bench/imports.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess

from _common import (
    PYTHON,
    MinServer,
    measure,
    partoo_bulk,
    quick_flag,
    run_worker,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

HEAVY = ("aiohttp", "pydantic", "pydantic_settings", "rich", "tenacity",
         "prometheus_client")
_PROBE = """
import json, sys
from worker.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules(args: list[str], env: dict[str, str]) -> list[str]:
    done = subprocess.run([PYTHON, "-c", _PROBE, *args], env=env, capture_output=True,
                          text=True, check=False, timeout=120)
    return json.loads(done.stderr.strip().splitlines()[-1])


def run(quick: bool) -> str:
    rounds = 3 if quick else 10
    with workdir() as d, MinServer() as server:
        env = worker_env(server.base_url, 1_000_000, 64)
        job = write_job(d / "imports.csv", 500)
        run_worker(job, env)  # its report, for `report R`
        report = str(job.with_name(job.stem + ".report.csv"))
        commands = {
            "python -c pass": None,
            "--help": ["--help"],
            "plan JOB": ["plan", str(job)],
            "report R": ["report", report],
            "run JOB --yes (500 rows)": ["run", str(job), "--yes", "--quiet",
                                         "--overwrite"],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, args in commands.items():
                cmd = [PYTHON, "-c", "pass"] if args is None else [partoo_bulk(), *args]
                result = measure(cmd, env)
                if result.code not in (0, 1):
                    raise RuntimeError(f"{name}: exit {result.code}: {result.stderr[-500:]}")
                walls[name].append(result.wall_s)
        base = statistics.median(walls["python -c pass"])
        rows = []
        for name, args in commands.items():
            loaded = modules([] if args is None else args, env) if args else []
            tops = {m.partition(".")[0] for m in loaded}
            heavy = [h for h in HEAVY if h in tops]
            judged = name in ("--help", "plan JOB", "report R")
            mark = verdict("aiohttp" not in heavy) if judged else ""
            median = statistics.median(walls[name])
            rows.append([name, len(loaded) if args else "", ", ".join(heavy) or "-", mark,
                         median * 1000, f"{median / base:.1f}x"])
    return table("imports per command: heavy libraries loaded, fresh processes (target: "
                 "no aiohttp for --help, plan and report)",
                 ["command", "modules", "heavy libraries loaded", "", "median ms",
                  "vs python"], rows)


if __name__ == "__main__":
    print(run(quick_flag()))
