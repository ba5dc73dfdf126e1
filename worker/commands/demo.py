"""`partoo-bulk demo`: run jobs/demo.csv against the bundled simulator, faults on.

The same code path as a real run (settings, job file, engine, client, report), pointed
at a simulator on loopback that answers some requests with 5xx, resets and slow replies,
so the demo shows retries and every kind of outcome in under a minute.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from worker.commands._flags import file_arg

__all__ = ["add_parser", "demo", "demo_job", "handle"]

_DEMO_RATE_PER_MINUTE = 600.0


def demo_job() -> Path:
    """Package data (worker/data/demo.csv), so the demo runs from an installed wheel too;
    jobs/demo.csv in a clone is a symlink to it. A wheel is always unpacked on disk.
    Found when the demo runs: importlib.resources costs every command's start-up (the
    parser imports every command's module) several milliseconds."""
    from importlib import resources

    return Path(str(resources.files("worker").joinpath("data", "demo.csv")))


def demo(report: Path, job_path: Path | None = None) -> int:
    # Imported here: every command's module is imported to build the parser.
    from pydantic import SecretStr

    from worker.config import Settings
    from worker.core.errors import JobFileError
    from worker.jobfile.pinned import JobSource
    from worker.run.runner import RunRequest, run
    from worker.simulator import DEMO_API_KEY, Faults, Simulator, SimulatorThread, seeded_state

    job_path = demo_job() if job_path is None else job_path
    if not job_path.exists():
        raise JobFileError(f"{job_path}: the demo job is missing from the installed "
                           "package: reinstall partoo-bulk")
    faults = Faults(error_before=0.08, error_after=0.04, reset_before=0.04, slow=0.05,
                    slow_s=0.5, seed=7)
    simulator = Simulator(seeded_state(), rate_per_minute=_DEMO_RATE_PER_MINUTE, burst=2,
                          faults=faults)
    with SimulatorThread(simulator) as sim:
        print(f"demo: Partoo simulator on {sim.base_url} (faults on: 5xx, resets, slow "
              "replies)")
        settings = Settings(api_key=SecretStr(DEMO_API_KEY), base_url=sim.base_url,
                            rate_per_minute=_DEMO_RATE_PER_MINUTE, concurrency=4,
                            request_timeout_s=5)
        code = run(RunRequest(job=JobSource(job_path), settings=settings, report=report,
                              overwrite=True, yes=True)).exit_code
    print(f"demo: the report is {report.resolve()}")
    print(f"demo: the run's exit code was {code} (1: some rows failed or were invalid, "
          "as the demo job intends; see the note column)")
    return 0 if code == 1 else code


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run jobs/demo.csv against the bundled simulator",
                       description="Run jobs/demo.csv against the bundled Partoo simulator, "
                       "faults on (5xx, resets, slow replies), and write its report.",
                       epilog="example:\n  partoo-bulk demo --report /tmp/demo.report.csv\n\n"
                       "environment: none (the demo uses the simulator's own key and "
                       "address, never PARTOO_*).",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--report", type=file_arg, default=Path("partoo-bulk-demo.report.csv"),
                   help="where to write the demo report (overwritten each time)")


def handle(args: argparse.Namespace) -> int:
    return demo(args.report)
