"""One module per subcommand: `add_parser(subparsers)` declares it, `handle(args)` runs it.

Command modules import only argparse-level things at the top; the heavy imports
(aiohttp, pydantic) happen inside `handle`, so `partoo-bulk --help` stays instant.
"""

__all__ = ["COMMANDS"]

COMMANDS = ("run", "plan", "report", "select", "verify", "demo", "simulate",
            "runbook", "completion")
