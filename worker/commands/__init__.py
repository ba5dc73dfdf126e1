"""One module per subcommand: `add_parser(subparsers)` declares it, `handle(args)` runs it.

`run`, `plan`, `report`, `select`, `verify`, `demo`, `simulate`, `runbook`, `completion`:
one each, named for its command. Shared by several: `_flags` (flags and the settings
they override), `_output` (`--json` documents and `-` for stdin/stdout), `_report_json`
(`report --json`'s document). The only package that imports the simulator (`demo`,
`simulate`). Command modules import only argparse-level things at the top; the heavy
imports (aiohttp, pydantic) happen inside `handle`.
"""

__all__ = ["COMMANDS"]

COMMANDS = ("run", "plan", "report", "select", "verify", "demo", "simulate",
            "runbook", "completion")
