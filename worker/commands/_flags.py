"""Flags shared by several commands, and turning them into settings and overrides."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.core.operations import Override

__all__ = ["FILE", "SETTINGS_ENVIRONMENT", "SettingsHelp", "add_action_flags",
           "add_dialect_flag", "add_settings_flags", "assignment", "file_arg",
           "override_from", "positive_int", "secret_flag", "secret_flag_message",
           "settings_from", "shown_arguments", "top_level_flag", "unknown_flags"]

# What shell completion offers for a path argument: shtab's FILE, spelt out so that the
# parsers are built without importing shtab (`--help` stays instant).
FILE = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}

CONFIG_ENVIRONMENT = """\
config file: --config FILE, else $PARTOO_CONFIG; under either, the default file
$XDG_CONFIG_HOME/partoo-bulk/config.toml (else ~/.config/partoo-bulk/config.toml).
precedence: flags > environment > --config / PARTOO_CONFIG file > default file > defaults.
"""

SETTINGS_ENVIRONMENT = """\
environment:
  PARTOO_API_KEY       the key (never a flag), or
  PARTOO_API_KEY_FILE  a file holding it, readable only by its owner (a mounted secret)
  PARTOO_BASE_URL, PARTOO_RATE_PER_MINUTE, PARTOO_CONCURRENCY, PARTOO_MAX_ATTEMPTS,
  PARTOO_REQUEST_TIMEOUT_S and the other PARTOO_* settings (README: Configuration)
  HTTPS_PROXY, NO_PROXY  the proxy requests go through, and the hosts it does not
                       serve (PARTOO_PROXY wins); PARTOO_CA_BUNDLE extra CAs
  PARTOO_CONFIG        the config file when --config is not given
  XDG_CONFIG_HOME      where the default config file is
  PARTOO_DEBUG=1       tracebacks for internal errors
""" + CONFIG_ENVIRONMENT


def add_action_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--action", choices=["close", "open", "unassign"],
                       help="the action for every id of a plain list of ids")
    group.add_argument("--assign", metavar="USER_ID",
                       help="assign every id of a plain list of ids to this user")


# `worker.files.csvdialect.DialectChoice`'s values, written out so that building the
# parsers imports nothing of the worker (`--help` stays instant); a test pins them.
CSV_DIALECTS = ("auto", "excel-fr", "comma")


def add_dialect_flag(p: argparse.ArgumentParser, what: str, auto: str) -> None:
    """--csv-dialect: the CSV dialect of `what` the command writes; `auto` says what the
    command's default follows."""
    p.add_argument("--csv-dialect", choices=CSV_DIALECTS, metavar="auto|excel-fr|comma",
                   help=f"{what}: auto (the default: {auto}), excel-fr (';' and a BOM, "
                   "for French Excel) or comma (',', no BOM)")


class SettingsHelp(argparse.RawDescriptionHelpFormatter):
    """A flag's "(default X)" read from the settings model (`worker.config.default`), the
    one place a default is written; read only when the help is shown, so that building
    the parsers imports no pydantic."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        setting = getattr(action, "setting", None)
        if setting is None:
            return action.help
        from worker.config import default

        value = default(setting)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{action.help} (default {shown})"


def add_settings_flags(p: argparse.ArgumentParser) -> None:
    p.formatter_class = SettingsHelp
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="TOML settings file (see config.example.toml; default: "
                   "$PARTOO_CONFIG)").complete = FILE  # type: ignore[attr-defined]
    for flag, kind, text in _SETTINGS_FLAGS:
        action = p.add_argument(flag, type=kind, help=text)
        action.setting = flag.removeprefix("--").replace("-", "_")  # type: ignore[attr-defined]
    # Settings with no default value (so no "(default X)"): the way to the API.
    p.add_argument("--proxy", metavar="URL",
                   help="forward proxy, http://host:port (default: HTTPS_PROXY, with "
                   "NO_PROXY); a password is better in PARTOO_PROXY than on a command line")
    p.add_argument("--ca-bundle", type=Path, metavar="FILE",
                   help="PEM file of CA certificates trusted on top of the system's "
                   "store (a TLS-inspecting proxy's)").complete = FILE  # type: ignore[attr-defined]


# The settings that have a flag (`worker.config.settings.FLAGGED` names the same ones).
_SETTINGS_FLAGS: tuple[tuple[str, type, str], ...] = (
    ("--rate-per-minute", float, "requests per minute"),
    ("--concurrency", int, "requests in flight at most; as many as the rate needs at the "
     "API's latency are kept out, up to this"),
    ("--max-attempts", int, "requests per row on transient errors"),
    ("--request-timeout-s", float, "seconds per request"),
    ("--base-url", str, "API base URL"),
)


def settings_from(args: argparse.Namespace) -> Settings:
    from worker.config import load_settings

    return load_settings(args.config, rate_per_minute=args.rate_per_minute,
                         concurrency=args.concurrency, max_attempts=args.max_attempts,
                         request_timeout_s=args.request_timeout_s, base_url=args.base_url,
                         proxy=args.proxy, ca_bundle=args.ca_bundle,
                         csv_dialect=getattr(args, "csv_dialect", None))


def override_from(args: argparse.Namespace) -> Override | None:
    """The `Override` that --action / --assign ask for, or None."""
    from worker.core.operations import make_override

    return make_override(getattr(args, "action", None), getattr(args, "assign", None))


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more (--top, --canary)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of 1 or more")
    return value


# What a key given as a flag is spelt as (`--api-key KEY`, `--partoo-key=KEY`, `--token`,
# `--auth`, `--bearer`, ...). The key is never a flag; such an argument and whatever
# follows it are never printed.
_SECRET_FLAG = re.compile(r"--?([a-z0-9]+[-_])*(api[-_]?key|apikey|key|token|api[-_]?token|"
                          r"secret|password|passwd|x[-_]?apikey|auth|authorization|bearer|"
                          r"credentials?)(=.*)?", re.IGNORECASE | re.DOTALL)
# A shell variable's assignment (`PARTOO_API_KEY=K`) typed after the command, where it
# is an argument: its value is never printed.
_ASSIGNMENT = re.compile(r"([A-Z][A-Z0-9_]*)=(.*)", re.DOTALL)
# How an argument that is no known one may be shown: a flag's name (its value masked),
# never a bare value, which may be a key (`--header x-APIKey:KEY`, `-k KEY`).
_LONG_FLAG = re.compile(r"--[A-Za-z][A-Za-z0-9_-]{0,39}")
_SHORT_FLAG = re.compile(r"-[A-Za-z]")
MASK = "****"
# Flags other tools have, and what does their job here.
_PLAN_INSTEAD = "`partoo-bulk plan JOB` shows what a run would send, sending nothing"
_ELSEWHERE = {"--dry-run": _PLAN_INSTEAD, "--dryrun": _PLAN_INSTEAD}


def secret_flag(argv: list[str]) -> str | None:
    """The name of the first argument that looks like a key given as a flag, or None."""
    for arg in argv:
        if arg == "--":
            return None
        match = _SECRET_FLAG.fullmatch(arg)
        if match:
            return arg.partition("=")[0]
    return None


def secret_flag_message(flag: str) -> str:
    return (f"{flag}: the API key is never given on the command line (it would stay in the "
            "shell's history and show in `ps`); set PARTOO_API_KEY, or PARTOO_API_KEY_FILE "
            "to a file holding it. What followed the flag is not shown")


def assignment(argv: list[str]) -> str | None:
    """What is wrong with a variable's assignment typed as an argument
    (`run J PARTOO_API_KEY=K`), or None. An argument right after a flag is that flag's
    value, and is left to the parser (masked if the flag is unknown)."""
    for position, arg in enumerate(argv, 1):
        if arg == "--":
            return None
        match = _ASSIGNMENT.fullmatch(arg)
        if match is None or (position > 1 and argv[position - 2].startswith("-")):
            continue
        name = match.group(1)
        text = (f"argument {position} ({name}={MASK}) is a variable's assignment, which a "
                f"shell takes as one only before the command: `{name}=... partoo-bulk ...`, "
                "or `export` it first (a file named so: give it as ./FILE)")
        if name.startswith("PARTOO_"):
            text += ("; the key is best never typed on a command line: `read -rs "
                     "PARTOO_API_KEY && export PARTOO_API_KEY`, or PARTOO_API_KEY_FILE")
        return text + ". Its value is not shown"
    return None


def _shown(arg: str) -> str | None:
    """`arg` as a message may show it: a flag's name with any value masked, or None
    for a value (shown by its position only)."""
    name, eq, _ = arg.partition("=")
    if _LONG_FLAG.fullmatch(name):
        return name + (f"={MASK}" if eq else "")
    if _SHORT_FLAG.fullmatch(arg[:2]):
        return arg[:2] + (MASK if len(arg) > 2 else "")
    match = _ASSIGNMENT.fullmatch(arg)
    return f"{match.group(1)}={MASK}" if match else None


def shown_arguments(extras: list[str], argv: list[str]) -> str:
    """The arguments `extras` (taken from `argv`) as a message may show them: flags by
    their name, values masked (`--partoo-key ****`) or by their position
    (`argument 5`)."""
    parts: list[str] = []
    start, masked = 0, False
    open_flag = 0  # the position of the last flag shown with no value: its value follows
    for arg in extras:
        position = argv.index(arg, start) + 1 if arg in argv[start:] else 0
        start = position or start
        shown = _shown(arg)
        masked = masked or shown != arg
        if shown is None and position and position - 1 == open_flag:
            parts[-1] += f" {MASK}"
            open_flag = 0
            continue
        parts.append(shown if shown is not None else
                     f"argument {position}" if position else "an argument")
        open_flag = position if shown == arg and arg.startswith("-") else 0
    text = ", ".join(parts)
    return text + (" (values are not shown: they may hold a secret)" if masked else "")


def unknown_flags(parser: argparse.ArgumentParser, extras: list[str],
                  others: dict[str, argparse.ArgumentParser], argv: list[str]) -> str:
    """argparse's "unrecognized arguments", never showing a value (`shown_arguments`),
    with, for each flag, the one meant: a close match among `parser`'s own flags, a flag
    of another subcommand (`others`), or what does the job of another tool's flag
    (`--dry-run`). Hints only ever name flags that exist."""
    import difflib  # only for a mistake

    own = _options(parser)
    hints = []
    for arg in extras:
        name = arg.partition("=")[0]
        if not name.startswith("-"):
            continue
        if name in _ELSEWHERE:
            hints.append(f"{name}: {_ELSEWHERE[name]}")
            continue
        longer = [o for o in own if o.startswith(name) and len(name) > 2]
        if len(longer) == 1:
            hints.append(f"did you mean {longer[0]}? Flags are never abbreviated")
            continue
        owners = [f"`partoo-bulk {command}`" for command, other in others.items()
                  if other is not parser and name in _options(other)]
        if owners:
            hints.append(f"{name} is a flag of {' and '.join(owners)}")
            continue
        close = difflib.get_close_matches(name, own, n=1, cutoff=0.7)
        if close:
            hints.append(f"did you mean {close[0]}?")
    message = f"unrecognized arguments: {shown_arguments(extras, argv)}"
    return message + (f" ({'; '.join(hints)})" if hints else "")


def top_level_flag(argv: list[str], parser: argparse.ArgumentParser,
                   commands: dict[str, argparse.ArgumentParser]) -> str | None:
    """What is wrong with a flag given before the command (`partoo-bulk --resume run J`,
    or a typo of a subcommand's flag there), or None: argparse would only say that COMMAND
    is missing or that the flag's value is no command, with no word of the flag meant."""
    import difflib  # only for a mistake

    def flags(p: argparse.ArgumentParser) -> list[str]:
        return [o for action in p._actions for o in action.option_strings]

    own = set(flags(parser))
    for position, arg in enumerate(argv, 1):
        if arg == "--" or arg in commands:
            return None
        name = arg.partition("=")[0]
        if not name.startswith("-"):
            # argparse would quote it ("invalid choice: 'PARTOO_API_KEY=K'"): it may be
            # a key, so it goes by its position.
            close = difflib.get_close_matches(arg, list(commands), n=1, cutoff=0.6)
            meant = f"did you mean `partoo-bulk {close[0]}`? " if close else ""
            return (f"argument {position} is not a command (it is not shown: it may hold "
                    f"a secret): {meant}the commands are {', '.join(commands)}")
        if name in own:
            continue
        if name in _ELSEWHERE:
            return f"{name}: {_ELSEWHERE[name]}"
        meant, typo = name, ""
        if not any(name in flags(sub) for sub in commands.values()):
            every = sorted({o for sub in commands.values() for o in _options(sub)})
            close = difflib.get_close_matches(name, every, n=1, cutoff=0.7)
            if not close:
                shown = shown_arguments([arg], argv)
                return f"unrecognized argument: {shown} (see partoo-bulk --help)"
            meant, typo = close[0], f"{name}: did you mean {close[0]}? "
        owners = [command for command, sub in commands.items() if meant in flags(sub)]
        where = " and ".join(f"`partoo-bulk {command}`" for command in owners)
        return (f"{typo}{meant} is a flag of {where}: give it after the command, e.g. "
                f"partoo-bulk {owners[0]} ... {meant}")
    return None


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for action in parser._actions for o in action.option_strings
            if o.startswith("--")]


def file_arg(text: str) -> Path:
    """An argparse type: a path that can name a file (not "", ".", "/" nor "out/"): a usage
    error before anything starts, rather than a crash on the names derived from it."""
    from worker.core.errors import ConfigError
    from worker.core.filepath import file_path, is_stdio

    if is_stdio(text):
        return Path(text)
    try:
        return Path(file_path(text))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
