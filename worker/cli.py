"""The command line: parse, then hand over to the command's module. No logic of its own.

Each subcommand lives in `worker.commands.<name>`. Errors a user can cause arrive as
`StartupError` / `RunAborted` and are printed as one message with their exit code;
anything else is a bug, printed without a traceback unless PARTOO_DEBUG is set.
Under `--json`, every way out (a usage error, an interrupt) leaves its JSON document on
stdout. stdout that cannot be written (`| head`, a full disk) never stops a command
half-way: `run` writes all its files and exits with its own code; a command whose
product is its stdout exits 141, as a Unix tool killed by SIGPIPE does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from types import ModuleType
from typing import Any, NoReturn

from worker import __version__, logs
from worker.commands import COMMANDS
from worker.core.exitcodes import ExitCode
from worker.logs import cli_logging

__all__ = ["main", "program"]

_EPILOG = """\
start with: partoo-bulk demo          (a run against the bundled simulator)
then:       partoo-bulk run --help

environment: PARTOO_API_KEY or PARTOO_API_KEY_FILE (required to send), PARTOO_CONFIG,
PARTOO_BASE_URL, PARTOO_RATE_PER_MINUTE, PARTOO_CONCURRENCY, PARTOO_MAX_ATTEMPTS,
PARTOO_REQUEST_TIMEOUT_S (README: Configuration), PARTOO_DEBUG=1 (tracebacks);
HTTPS_PROXY / NO_PROXY or PARTOO_PROXY, PARTOO_CA_BUNDLE (README: Behind a proxy).
config file: --config FILE, else $PARTOO_CONFIG, over $XDG_CONFIG_HOME/partoo-bulk/config.toml.
shell completion: partoo-bulk completion bash|zsh (see its --help).
exit codes: 0 all ok, 1 some rows failed or invalid, 2 could not start (nothing sent),
3 aborted (bad key, API down), 130 interrupted, 141 stdout closed (`| head`).
"""

# Commands whose product is a file (the report): a lost stdout costs them their summary
# line only, and their exit code stays the one their summary JSON and metrics record.
_STDOUT_IS_A_COURTESY = frozenset({"run", "demo"})


class _UsageError(SystemExit):
    """argparse's usage error (exit 2), with its message for `--json`'s document."""

    def __init__(self, message: str) -> None:
        super().__init__(ExitCode.COULD_NOT_START)
        self.message = message


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are JSON lines under `--log-format json`
    (subcommands' parsers are of the same class), and which never takes a prefix of a
    flag for the flag: a tool that changes production data does not
    guess, and a flag added later cannot change what an old script means."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # `--yes=VALUE`: argparse quotes the value, which may be anything (a key).
        message = re.sub(r"ignored explicit argument .*", "takes no value (the value given "
                         "is not shown)", message, flags=re.DOTALL)
        if logs.json_mode():
            logs.event("usage_error", f"{self.prog}: {message}", level=logs.ERROR,
                       exit_code=ExitCode.COULD_NOT_START)
        else:
            self.print_usage(sys.stderr)
            print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise _UsageError(f"{self.prog}: {message}")


def _wants_json_logs(argv: list[str]) -> bool:
    """`--log-format json` among the arguments: known before parsing, so that even a
    usage error is a JSON line."""
    for i, arg in enumerate(argv):
        if arg == "--log-format=json" or (arg == "--log-format" and argv[i + 1:i + 2] == ["json"]):
            return True
    return False


def _json_command(argv: list[str], parser: argparse.ArgumentParser) -> str | None:
    """The command whose `--json` the arguments ask for (an abbreviation too, as argparse
    takes one), known before parsing: a usage error prints its document too."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = next((a for a in argv if a in sub.choices), None)
    if command is None or "--json" not in sub.choices[command]._option_string_actions:
        return None
    after = argv[argv.index(command) + 1:]
    after = after[:after.index("--")] if "--" in after else after
    return command if any(len(a) > 3 and "--json".startswith(a) for a in after) else None


def _parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = _Parser(
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
    parser.set_defaults(root_parser=parser)  # for `completion`, which describes them all
    return parser, modules


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The arguments, or a usage error that names the flag meant and never shows a key
    given as a flag (nor anything after it)."""
    from worker.commands._flags import (
        assignment,
        secret_flag,
        secret_flag_message,
        top_level_flag,
        unknown_flags,
    )

    flag = secret_flag(argv)
    if flag is not None:
        parser.error(secret_flag_message(flag))
    misplaced = assignment(argv) or top_level_flag(argv, parser, _subparsers(parser))
    if misplaced is not None:
        parser.error(misplaced)
    args, extras = parser.parse_known_args(argv)
    if extras:
        commands = _subparsers(parser)
        own = commands.get(getattr(args, "command", ""), parser)
        own.error(unknown_flags(own, extras, commands, argv))
    return args


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def program() -> int:
    """The `partoo-bulk` program (its console script, `python -m worker`): the process is
    the command line's own, so it claims the process's own settings (the collector's, the
    csv field limit: `worker.core.process`). `main` is the same command line for callers
    that share their process (tests, a host program): it changes none of them."""
    from worker.core import process

    process.claim()
    return main()


def main(argv: list[str] | None = None) -> int:
    _null_for_closed_outputs()
    argv = sys.argv[1:] if argv is None else argv
    fmt = "json" if _wants_json_logs(argv) else "text"
    logs.start(fmt)
    parser, modules = _parser()
    from worker.commands._output import guarded_stdout

    with guarded_stdout() as stdout:
        try:
            args = _parse(parser, argv)
        except _UsageError as exc:
            command = _json_command(argv, parser)
            if command is not None:
                _print_json_error(command, ExitCode.COULD_NOT_START, exc.message)
            raise
        code = _handle(args, modules, fmt)
    if stdout is None or stdout.error is None:
        return code
    if not stdout.broken_pipe:  # a reader that left (`| head`) is no news
        logs.event("stdout_error", f"partoo-bulk: could not write to stdout "
                   f"({stdout.error.strerror or stdout.error}); what it was to show is "
                   "lost" + (", but every file was written" if args.command in
                             _STDOUT_IS_A_COURTESY else ""), level=logs.WARNING)
    return code if args.command in _STDOUT_IS_A_COURTESY else ExitCode.STDOUT_LOST


def _handle(args: argparse.Namespace, modules: dict[str, ModuleType], fmt: str) -> int:
    try:
        with cli_logging():
            # Every command's warnings on stderr (a config file others can read, say);
            # `run` sets it up again with its -v and the key to mask.
            logs.setup_logging(verbose=False, fmt=fmt, secret=None)
            code: int = modules[args.command].handle(args)
            return code
    except KeyboardInterrupt:
        logs.event("interrupted", "partoo-bulk: interrupted", level=logs.ERROR,
                   exit_code=ExitCode.INTERRUPTED)
        _json_error(args, ExitCode.INTERRUPTED, "interrupted")
        return ExitCode.INTERRUPTED
    except Exception as exc:
        from worker.core.errors import RunAborted, StartupError

        if isinstance(exc, StartupError | RunAborted):
            name = "aborted" if isinstance(exc, RunAborted) else "could_not_start"
            logs.event(name, f"partoo-bulk: {exc}", level=logs.ERROR,
                       exit_code=exc.exit_code)
            _json_error(args, exc.exit_code, str(exc))
            return exc.exit_code
        if os.environ.get("PARTOO_DEBUG"):
            raise
        logs.event("internal_error", f"partoo-bulk: internal error ({type(exc).__name__}): "
                   f"{exc}\nThis is a bug; set PARTOO_DEBUG=1 for details. If a run was "
                   "under way, its report is valid up to its last line: finish with --resume.",
                   level=logs.ERROR, exit_code=ExitCode.ABORTED)
        _json_error(args, ExitCode.ABORTED, f"internal error ({type(exc).__name__}): {exc}")
        return ExitCode.ABORTED


def _null_for_closed_outputs() -> None:
    """A stdout or stderr the shell closed (`2>&-`) becomes /dev/null, before any file is
    opened. Otherwise the first file opened (the report's lock, the report) would get
    descriptor 2 and anything written to stderr would land in it, and Python's
    `sys.stderr` is None: `print(file=None)` writes on stdout, and the progress display
    fails after `--overwrite` has cleared the old report. Messages are lost, as the
    operator asked; the run, its files and its exit code are as with stderr open."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        null = os.open(os.devnull, os.O_WRONLY)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "w", encoding="utf-8", closefd=False))


def _json_error(args: argparse.Namespace, code: int, error: str) -> None:
    """Under --json, stdout holds one JSON document whatever happens: this one on error."""
    if getattr(args, "json", False):
        _print_json_error(args.command, code, error)


def _print_json_error(command: str, code: int, error: str) -> None:
    from worker.commands._output import document, print_json

    print_json(document(command, exit_code=code, error=error))
