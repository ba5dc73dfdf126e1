"""The command line: parse, then hand over to the command's module. No logic of its own.

Each subcommand lives in `worker.commands.<name>`. Errors a user can cause arrive as
`StartupError` / `RunAborted` and are printed as one message with their exit code;
anything else is a bug, printed without a traceback unless PARTOO_DEBUG is set.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from worker import __version__
from worker.commands import COMMANDS

__all__ = ["main"]

_EPILOG = """\
start with: partoo-bulk demo          (a run against the bundled simulator)
then:       partoo-bulk run --help

environment: PARTOO_API_KEY (required to send), PARTOO_BASE_URL, PARTOO_RATE_PER_MINUTE,
PARTOO_CONCURRENCY, PARTOO_MAX_ATTEMPTS, PARTOO_REQUEST_TIMEOUT_S (README: Configuration).
exit codes: 0 all ok, 1 some rows failed or invalid, 2 could not start (nothing sent),
3 aborted (bad key, API down), 130 interrupted.
"""


def _parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog="partoo-bulk", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Change thousands of Partoo conversations at once, safely.",
        epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"partoo-bulk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = {}
    for name in COMMANDS:
        module = importlib.import_module(f"worker.commands.{name}")
        module.add_parser(sub)
        modules[name] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = _parser()
    args = parser.parse_args(argv)
    try:
        return modules[args.command].handle(args)
    except KeyboardInterrupt:
        print("partoo-bulk: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from worker.core.errors import RunAborted, StartupError

        if isinstance(exc, StartupError | RunAborted):
            print(f"partoo-bulk: {exc}", file=sys.stderr)
            return exc.exit_code
        if os.environ.get("PARTOO_DEBUG"):
            raise
        print(f"partoo-bulk: internal error ({type(exc).__name__}): {exc}\n"
              "This is a bug; set PARTOO_DEBUG=1 for details. If a run was under way, "
              "its report is valid up to its last line: finish with --resume.",
              file=sys.stderr)
        return 3
