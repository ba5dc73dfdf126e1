"""Every setting's default value, the one place a default is written; where the default
config file is; and whether anything sets a setting at all (`untouched`).

The settings model (`worker.config.settings`) takes its defaults from here, and so do
`--help` ("(default X)"), `RetryPolicy` and the README's table (`default`): reading a
default needs no pydantic, so `run --help` does not build the model, nor does `plan`
when nothing sets a setting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from worker.files.csvdialect import DialectChoice

__all__ = ["DEFAULTS", "DEFAULT_BASE_URL", "default", "default_config_path", "untouched"]

DEFAULT_BASE_URL = "https://api.partoo.co/v2"

DEFAULTS: dict[str, Any] = {
    "api_key": None,
    "base_url": DEFAULT_BASE_URL,
    "request_timeout_s": 30.0,
    "max_attempts": 5,
    "rate_per_minute": 300.0,
    "burst": 1,
    "concurrency": 64,
    "backoff_base_s": 0.5,
    "backoff_max_s": 30.0,
    "max_retry_after_s": 120.0,
    "rate_limit_budget_s": 900.0,
    "failure_window": 50,
    "failure_threshold": 0.5,
    "no_progress_timeout_s": 600.0,
    "same_refusal_rows": 20,
    "guard_max_age_s": 30.0,
    "proxy": None,
    "ca_bundle": None,
    "csv_dialect": DialectChoice.AUTO,
}


def default(name: str) -> Any:
    """A setting's default. Raises `KeyError` for a name that is not a setting."""
    return DEFAULTS[name]


def default_config_path() -> Path:
    """`$XDG_CONFIG_HOME/partoo-bulk/config.toml`, or under ~/.config (the XDG default,
    also when XDG_CONFIG_HOME is relative, which the specification says to ignore)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "partoo-bulk" / "config.toml"


def untouched(config_file: str | Path | None = None) -> bool:
    """Nothing sets any setting but the key: no config file to read (none given, no
    PARTOO_CONFIG, no default file) and no PARTOO_<SETTING> variable other than
    PARTOO_API_KEY (pydantic-settings reads their names in any case).
    `load_settings(read_key=False)` with no flag would then give the defaults, the key
    aside, so a command that needs no key (`plan`) and was given no flag can take them
    as they are. (PARTOO_API_KEY_FILE is not a setting: only `read_key` reads it.)"""
    if config_file or os.environ.get("PARTOO_CONFIG") or default_config_path().is_file():
        return False
    names = {f"partoo_{name}" for name in DEFAULTS if name != "api_key"}
    return not any(key.lower() in names for key in os.environ)
