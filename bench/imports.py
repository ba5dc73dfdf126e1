"""Imports per command: which heavy libraries `partoo-bulk plan JOB`, `report R`,
`--help` and `run JOB --yes` load, how many modules, and what the command costs as a
fresh process (wall time), against `python -c pass` measured in the same run.

Issue 23: no aiohttp for plan, report and --help (ideally no pydantic). The modules are
read by a probe that runs the CLI's `main` in a fresh interpreter and prints
`sys.modules` at the end (the same as tests/e2e/test_imports.py asserts). Like
`startup.py`, it measures this repository's wheel installed in a venv of its own
(`_common.installed`), or `--source DIR`'s. The commands run with the environment of a
run (PARTOO_API_KEY, PARTOO_BASE_URL, PARTOO_RATE_PER_MINUTE, PARTOO_CONCURRENCY), so
`plan` validates those settings with the model; `plan` is shown again with only the key
set, where it takes the defaults as they are and loads no pydantic (as
tests/e2e/test_imports.py asserts).

    .venv/bin/python bench/imports.py [--quick] [--source DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path

from _common import (
    REPO,
    MinServer,
    installed,
    measure,
    partoo_bulk,
    run_worker,
    table,
    verdict,
    workdir,
    worker_env,
    write_job,
)

HEAVY = ("aiohttp", "pydantic", "pydantic_settings", "rich", "tenacity",
         "prometheus_client")
KEY_ONLY = "plan JOB (only PARTOO_API_KEY set)"
_PROBE = """
import json, sys
from worker.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules(python: str, args: list[str], env: dict[str, str], cwd: Path) -> list[str]:
    # Not from the repository: `python -c` imports from its working folder first, and
    # there `worker` is the clone's, not the installed wheel's.
    done = subprocess.run([python, "-c", _PROBE, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, check=False, timeout=120)
    return json.loads(done.stderr.strip().splitlines()[-1])


def run(quick: bool, source: Path = REPO) -> str:
    rounds = 3 if quick else 10
    with installed(source) as python, workdir() as d, MinServer() as server:
        env = worker_env(server.base_url, 1_000_000, 64)
        job = write_job(d / "imports.csv", 500)
        run_worker(job, env, script=partoo_bulk(python))  # its report, for `report R`
        report = str(job.with_name(job.stem + ".report.csv"))
        commands = {
            "python -c pass": None,
            "--help": ["--help"],
            "plan JOB": ["plan", str(job)],
            KEY_ONLY: ["plan", str(job)],
            "report R": ["report", report],
            "run JOB --yes (500 rows)": ["run", str(job), "--yes", "--quiet",
                                         "--overwrite"],
        }
        # A shell where only the key is exported: plan takes the defaults as they are.
        key_only = {k: v for k, v in env.items()
                    if not k.startswith("PARTOO_") or k == "PARTOO_API_KEY"}
        envs = {name: key_only if name == KEY_ONLY else env for name in commands}
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, args in commands.items():
                cmd = ([python, "-c", "pass"] if args is None
                       else [partoo_bulk(python), *args])
                result = measure(cmd, envs[name])
                if result.code not in (0, 1):
                    raise RuntimeError(f"{name}: exit {result.code}: {result.stderr[-500:]}")
                walls[name].append(result.wall_s)
        base = statistics.median(walls["python -c pass"])
        rows = []
        for name, args in commands.items():
            loaded = modules(python, args, envs[name], d) if args else []
            tops = {m.partition(".")[0] for m in loaded}
            heavy = [h for h in HEAVY if h in tops]
            judged = name in ("--help", "plan JOB", KEY_ONLY, "report R")
            mark = verdict("aiohttp" not in heavy) if judged else ""
            median = statistics.median(walls[name])
            rows.append([name, len(loaded) if args else "", ", ".join(heavy) or "-", mark,
                         median * 1000, f"{median / base:.1f}x"])
    return table("imports per command: heavy libraries loaded, fresh processes (target: "
                 "no aiohttp for --help, plan and report)",
                 ["command", "modules", "heavy libraries loaded", "", "median ms",
                  "vs python"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 rounds, not 10 (CI)")
    parser.add_argument("--source", type=Path, default=REPO,
                        help="the checkout whose wheel to measure (default: this one)")
    options = parser.parse_args()
    print(run(options.quick, options.source.resolve()))
