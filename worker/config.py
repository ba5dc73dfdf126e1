"""Settings: typed, frozen, from flags > environment (PARTOO_*) > a TOML file > defaults.

Only this module and the CLI read the environment or files; everything else receives a
`Settings` (or the values it needs) through its constructor. The API key is a `SecretStr`
from the moment it is read, so reprs and errors print `**********`.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import sys
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from worker.core.errors import ConfigError

__all__ = ["DEFAULT_BASE_URL", "Settings", "load_settings"]

DEFAULT_BASE_URL = "https://api.partoo.co/v2"
# Settings that have a flag (`worker.commands._flags`); the others are set in the
# environment or the file only, and a message must not name a flag that does not exist.
_FLAGS = frozenset({"base_url", "rate_per_minute", "concurrency", "max_attempts",
                    "request_timeout_s"})
_FILE_VALUES: ContextVar[dict[str, Any]] = ContextVar("file_values", default={})  # noqa: B039


class Settings(BaseSettings):
    """Everything a run can be tuned with. Names carry their units."""

    model_config = SettingsConfigDict(env_prefix="PARTOO_", extra="forbid", frozen=True)

    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    request_timeout_s: float = Field(30.0, gt=0, le=600)
    max_attempts: int = Field(5, ge=1, le=50)  # requests per row, 429s not counted
    rate_per_minute: float = Field(300.0, gt=0, le=1_000_000)
    burst: int = Field(1, ge=1, le=1000)  # requests that may go at once after idling
    concurrency: int = Field(8, ge=1, le=512)
    backoff_base_s: float = Field(0.5, gt=0, le=60)  # first retry waits up to this
    backoff_max_s: float = Field(30.0, gt=0, le=600)  # no retry waits longer (5xx, resets)
    max_retry_after_s: float = Field(120.0, gt=0, le=3600)  # longest single 429 pause
    rate_limit_budget_s: float = Field(900.0, gt=0)  # one row's total wait on 429s
    failure_window: int = Field(50, ge=1, le=10_000)  # recent rows the breaker looks at
    failure_threshold: float = Field(0.5, gt=0, le=1)  # share of them failing that aborts
    # The first rows sent all refused the same way stop the run (0: never).
    same_refusal_rows: int = Field(20, ge=0, le=100_000)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://api.partoo.co/v2")
        if parts.username or parts.password:
            raise ValueError("must not hold a user or a password (user:password@): the "
                             "API takes its key from PARTOO_API_KEY only")
        if parts.query or parts.fragment:
            raise ValueError("must not hold a query or a fragment")
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0 and parts.netloc.rpartition("]")[2].count(":"):  # given, but not 1-65535
            raise ValueError("its port must be a number from 1 to 65535")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError("plain http is only allowed to a loopback address (the "
                             "simulator); the API key would travel unencrypted: use https")
        return value

    @field_validator("api_key")
    @classmethod
    def _check_api_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        key = value.get_secret_value().strip()  # a newline from `$(cat keyfile)`, say
        if not key:
            return None
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in key):
            # Never echo the key: say what is wrong with it, not what it is.
            raise ValueError("the key holds spaces or control characters (pasted with a "
                             "line break?): set it again")
        return SecretStr(key)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The order is the precedence: flags, then PARTOO_* variables, then the file.
        return (init_settings, env_settings,
                InitSettingsSource(settings_cls, init_kwargs=_FILE_VALUES.get()))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(config_file: str | Path | None = None, **flags: Any) -> Settings:
    """Settings from the flags given (None means "not given"), the environment and the file."""
    file_values = _read_toml(Path(config_file)) if config_file else {}
    token = _FILE_VALUES.set(file_values)
    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_explain(exc, config_file)) from None
    finally:
        _FILE_VALUES.reset(token)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            values = tomllib.load(f)
            if "api_key" in values and os.fstat(f.fileno()).st_mode & 0o077:
                print(f"partoo-bulk: warning: {path} holds api_key and other users can read "
                      f"it: chmod 600 {path}", file=sys.stderr)
            return values
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file: check --config") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}): see config.example.toml") from None


def _explain(exc: ValidationError, config_file: str | Path | None) -> str:
    lines = ["invalid settings:"]
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "?"
        where = f"PARTOO_{name.upper()}"
        if name in _FLAGS:
            where = f"--{name.replace('_', '-')}, {where}"
        if config_file:
            where += f" or {name!r} in {config_file}"
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, list(Settings.model_fields), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            lines.append(f"  {name!r} in {config_file}: unknown setting; {hint}"
                         "see config.example.toml for the known ones")
            continue
        shown = _shown(name, err.get("input"))
        lines.append(f"  {name} ({where}): {err['msg'].removeprefix('Value error, ')}{shown}")
    return "\n".join(lines)


def _shown(name: str, value: Any) -> str:
    """The value given, for the message; never a secret: not the key, and a URL without
    what may hold one (a password, a query)."""
    if name == "api_key":
        return ""
    if name == "base_url" and isinstance(value, str):
        parts = urlsplit(value.strip())
        host = parts.netloc.rpartition("@")[2]
        hidden = "***@" if "@" in parts.netloc else ""
        rest = "?…" if parts.query or parts.fragment else ""
        value = f"{parts.scheme}://{hidden}{host}{parts.path}{rest}" if parts.scheme \
            else "(not a URL)"
    return f" (got {value!r})"
