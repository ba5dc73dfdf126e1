"""`partoo-bulk verify REPORT`: check that the conversations hold what the report set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from worker.commands._flags import add_settings_flags, settings_from

__all__ = ["add_parser", "handle"]

EXAMPLES = """\
examples:
  partoo-bulk verify jobs/reassign.report.csv               # every ok conversation
  partoo-bulk verify jobs/reassign.report.csv --sample 200  # a random sample

exit codes: 0 every checked conversation holds its value, 1 some differ or could not be
read, 2 could not start, 3 stopped (bad key, API down).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="read changed conversations back and compare",
                       description="Read back, from the API, the conversations of a "
                       "report's ok rows and check each holds the value of its last ok row.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report", type=Path, metavar="REPORT", help="a report written by run")
    p.add_argument("--sample", type=int, metavar="N",
                   help="check N conversations picked at random (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    add_settings_flags(p)


def handle(args: argparse.Namespace) -> int:
    from worker.core.errors import ConfigError
    from worker.run.verify import expectations, verify

    settings = settings_from(args)
    if settings.api_key is None:
        raise ConfigError("PARTOO_API_KEY is not set: export it (verify reads conversations "
                          "from the API)")
    if args.sample is not None and args.sample < 1:
        raise ConfigError("--sample must be at least 1")
    expected = expectations(args.report)
    verdict = verify(expected, settings, sample=args.sample, seed=args.seed)
    for line in verdict.differences + verdict.unreadable:
        print(line)
    if verdict.aborted:
        print(f"partoo-bulk: verify stopped after {verdict.checked} conversations: "
              f"{verdict.aborted}", file=sys.stderr)
        return 3
    ok = verdict.checked - len(verdict.differences) - len(verdict.unreadable)
    print(f"verify: {verdict.checked} of {len(expected)} changed conversations checked: "
          f"{ok} as expected, {len(verdict.differences)} differ, "
          f"{len(verdict.unreadable)} could not be read", file=sys.stderr)
    return 1 if verdict.differences or verdict.unreadable else 0
