"""`partoo-bulk verify REPORT`: check that the conversations hold what the report set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from worker.commands._flags import FILE, SETTINGS_ENVIRONMENT, add_settings_flags, settings_from
from worker.commands._output import add_json_flag
from worker.core.exitcodes import exit_code

if TYPE_CHECKING:
    from worker.run.verify import Expected, Findings

__all__ = ["add_parser", "handle"]

EXAMPLES = """\
examples:
  partoo-bulk verify moves.report.csv                      # every ok conversation
  partoo-bulk verify moves.report.csv --sample 200         # a random sample
  partoo-bulk verify moves.report.csv --json | jq '.differences[]'

exit codes: 0 every checked conversation holds its value, 1 some differ or could not be
read, 2 could not start, 3 stopped (bad key, API down).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("verify", help="read changed conversations back and compare",
                       description="Read back, from the API, the conversations of a "
                       "report's ok rows and check each holds the value of its last ok row.",
                       epilog=EXAMPLES + "\n" + SETTINGS_ENVIRONMENT,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report", type=Path, metavar="REPORT", help="a report written by run"
                   ).complete = FILE  # type: ignore[attr-defined]
    p.add_argument("--sample", type=int, metavar="N",
                   help="check N conversations picked at random (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    add_json_flag(p)
    add_settings_flags(p)


def handle(args: argparse.Namespace) -> int:
    from worker.core.errors import ConfigError
    from worker.run.verify import changed_rows, expectations, verify

    settings = settings_from(args)
    settings.require_api_key("verify reads conversations as the Partoo user of the key")
    if args.sample is not None and args.sample < 1:
        raise ConfigError("--sample must be at least 1")
    expected = expectations(args.report)
    not_sent = changed_rows(args.report)
    verdict = verify(expected, settings, sample=args.sample, seed=args.seed)
    differ = {d.conversation_id for d in verdict.differences}
    ok = verdict.checked - len(differ | {u.conversation_id for u in verdict.unreadable})
    code = exit_code(verdict.stop, all_ok=not (verdict.differences or verdict.unreadable))
    if args.json:
        _print_document(args, expected, verdict, code, not_sent)
    else:
        for line in verdict.lines():
            print(line)
    if verdict.aborted:
        print(f"partoo-bulk: verify stopped after {verdict.checked} conversations: "
              f"{verdict.aborted}", file=sys.stderr)
        return code
    print(f"verify: {verdict.checked} of {len(expected)} changed conversations checked: "
          f"{ok} as expected, {len(differ)} differ, "
          f"{len(verdict.unreadable)} could not be read", file=sys.stderr)
    if not_sent:
        print(f"verify: {not_sent} row(s) not checked: changed since the job was made, "
              "so not sent (nothing was expected of them)", file=sys.stderr)
    return code


def _print_document(args: argparse.Namespace, expected: dict[int, Expected],
                    verdict: Findings, code: int, not_sent: int) -> None:
    from dataclasses import asdict

    from worker.commands._output import absolute, document, print_json

    differ = {d.conversation_id for d in verdict.differences}
    unread = {u.conversation_id for u in verdict.unreadable}
    print_json(document(
        "verify", exit_code=code, report=absolute(args.report),
        changed_conversations=len(expected), sample=args.sample,
        checked=verdict.checked, as_expected=verdict.checked - len(differ | unread),
        differ=len(differ), unreadable_count=len(unread),
        differences=[asdict(d) for d in verdict.differences],
        unreadable=[asdict(u) for u in verdict.unreadable], aborted=verdict.aborted,
        changed_rows=not_sent))
