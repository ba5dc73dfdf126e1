"""`partoo-bulk demo`: run jobs/demo.csv against the bundled simulator."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "handle"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run jobs/demo.csv against the bundled simulator",
                       description="Run jobs/demo.csv against the bundled Partoo simulator, "
                       "faults on (5xx, resets, slow replies), and write its report.",
                       epilog="example:\n  partoo-bulk demo --report /tmp/demo.report.csv\n\n"
                       "environment: none (the demo uses the simulator's own key and "
                       "address, never PARTOO_*).",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--report", type=Path, default=Path("partoo-bulk-demo.report.csv"),
                   help="where to write the demo report (overwritten each time)")


def handle(args: argparse.Namespace) -> int:
    from worker.run.demo import demo

    return demo(args.report)
