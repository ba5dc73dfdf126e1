"""Flags shared by several commands, and turning them into settings and overrides."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.core.operations import Override

__all__ = ["FILE", "SETTINGS_ENVIRONMENT", "SettingsHelp", "add_action_flags", "add_settings_flags",
           "override_from", "positive_int", "settings_from"]

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


# The settings that have a flag (`worker.config.FLAGGED` names the same ones).
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
                         request_timeout_s=args.request_timeout_s, base_url=args.base_url)


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
