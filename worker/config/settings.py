"""Settings: typed, frozen, from flags > environment (PARTOO_*) > the config file
(`--config`, else `$PARTOO_CONFIG`) > the default config file
(`$XDG_CONFIG_HOME/partoo-bulk/config.toml`, else `~/.config/...`) > defaults.

The two files are layered: the default file gives values the named file does not. The
key comes from PARTOO_API_KEY or from a file named by PARTOO_API_KEY_FILE (or `api_key`
/ `api_key_file` in a config file); a file that holds it, key file or config file, follows
one rule (`worker.keyfile.check_secret_file`). Only this module (with `network`),
`worker.keyfile` and the CLI read the environment or files; everything else receives a
`Settings` (or the values it needs) through its constructor. The API key is a
`SecretStr` from the moment it is read, so reprs and errors print `**********`. A
settings error is one `ConfigError` with a line per wrong setting (`explain`): which,
where it can be set, what is wrong, never a secret.
"""

from __future__ import annotations

import ipaddress
import os
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

from worker.config.defaults import DEFAULT_BASE_URL, DEFAULTS, default, default_config_path
from worker.core.errors import ConfigError
from worker.core.urls import Proxy, shown_url
from worker.files.csvdialect import DialectChoice
from worker.keyfile import Key, check_secret_file, file_kind, read_key_file

__all__ = ["DEFAULT_BASE_URL", "Settings", "default", "default_config_path", "load_settings"]

_D = DEFAULTS  # every default is written there (`worker.config.defaults`)
# The settings that have a command-line flag (worker.commands._flags): an error names
# the flag only for these.
FLAGGED = frozenset({"base_url", "rate_per_minute", "concurrency", "max_attempts",
                     "request_timeout_s", "proxy", "ca_bundle", "csv_dialect"})
_FILE_VALUES: ContextVar[dict[str, Any]] = ContextVar("file_values", default={})  # noqa: B039


class Settings(BaseSettings):
    """Everything a run can be tuned with. Names carry their units."""

    model_config = SettingsConfigDict(env_prefix="PARTOO_", extra="forbid", frozen=True)

    api_key: SecretStr | None = _D["api_key"]
    base_url: str = _D["base_url"]
    request_timeout_s: float = Field(_D["request_timeout_s"], gt=0, le=600)
    # Requests per row, 429s not counted.
    max_attempts: int = Field(_D["max_attempts"], ge=1, le=50)
    rate_per_minute: float = Field(_D["rate_per_minute"], gt=0, le=1_000_000)
    # Requests that may go at once after idling.
    burst: int = Field(_D["burst"], ge=1, le=1000)
    # The cap on requests in flight: the worker keeps as many out as the rate needs at
    # the API's latency (rate x latency), up to this (worker.sending.concurrency).
    concurrency: int = Field(_D["concurrency"], ge=1, le=512)
    # The first retry waits up to this; no retry waits longer than backoff_max_s (5xx,
    # resets), nor a single 429 pause longer than max_retry_after_s; one row's total
    # wait on 429s is rate_limit_budget_s.
    backoff_base_s: float = Field(_D["backoff_base_s"], gt=0, le=60)
    backoff_max_s: float = Field(_D["backoff_max_s"], gt=0, le=600)
    max_retry_after_s: float = Field(_D["max_retry_after_s"], gt=0, le=3600)
    rate_limit_budget_s: float = Field(_D["rate_limit_budget_s"], gt=0)
    # The breaker looks at the last failure_window rows; this share of them failing aborts.
    failure_window: int = Field(_D["failure_window"], ge=1, le=10_000)
    failure_threshold: float = Field(_D["failure_threshold"], gt=0, le=1)
    # No request went through for this long (a quota used up for good): the run stops.
    no_progress_timeout_s: float = Field(_D["no_progress_timeout_s"], gt=0)
    # The first rows sent all refused the same way stop the run (0: never).
    same_refusal_rows: int = Field(_D["same_refusal_rows"], ge=0, le=100_000)
    # How old a guard's state may be when its row's PATCH goes out, first or retried
    # (`worker.sending.row`); 0: the PATCH right after its own read, every retry reads again.
    guard_max_age_s: float = Field(_D["guard_max_age_s"], ge=0, le=3600)
    # The forward proxy every request goes through (http(s)://[user:password@]host:port);
    # unset, HTTPS_PROXY / HTTP_PROXY / ALL_PROXY apply, and NO_PROXY to both
    # (`worker.config.network`). A secret: it may hold a password.
    proxy: SecretStr | None = _D["proxy"]
    # PEM certificates trusted on top of the system's trust store (a company's
    # TLS-inspection CA, a private CA): `worker.partoo.tls`.
    ca_bundle: Path | None = _D["ca_bundle"]
    # The CSV dialect of the files written for people (the report, the job files of
    # select and the undo jobs): auto follows the file they come from, select's is
    # comma (`worker.files.csvdialect`).
    csv_dialect: DialectChoice = _D["csv_dialect"]

    def require_api_key(self, needed_for: str, *,
                        how: str = "export PARTOO_API_KEY (or PARTOO_API_KEY_FILE)") -> SecretStr:
        """The key, or the one "no key" `ConfigError`: what it is needed for, and `how` to
        give it (the CLI's way by default; the Python API names its own)."""
        if self.api_key is None:
            given = os.environ.get("PARTOO_API_KEY")
            # An empty value wins over a config file's key, as any value does.
            state = ("is set, but empty (or only spaces), which also hides any api_key "
                     "of a config file: unset it or" if given is not None else "is not set")
            raise ConfigError(f"PARTOO_API_KEY {state}: {needed_for}. Give it: {how}, "
                              "without typing it on a command line (e.g. `read -rs "
                              "PARTOO_API_KEY && export PARTOO_API_KEY`); it is never a flag, "
                              "so it stays out of shell history and ps")
        return self.api_key

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        try:
            parts = urlsplit(value)
        except ValueError:  # "http://[::1": an IPv6 address without its closing bracket
            raise ValueError("must be an http(s) URL such as https://api.partoo.co/v2 (an "
                             "IPv6 address goes in brackets: http://[::1]:8080/v2)") from None
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

    @field_validator("proxy")
    @classmethod
    def _check_proxy(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        Proxy.parse(value.get_secret_value(), "proxy")  # ValueError: says why, not the URL
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _check_ca_bundle(cls, value: Path | None) -> Path | None:
        if value is None or not str(value).strip():
            return None
        value = value.expanduser()
        try:
            kind = file_kind(value.stat())
        except FileNotFoundError:
            kind = "no such file"
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in it
            kind = f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
        if kind is not None:  # a folder, /dev/zero: say so, not "no such file"
            raise ValueError(f"{kind}: name a PEM file of CA certificates")
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
        # Where it came from stays with it (a 401 names the file to check).
        return Key(key, value.source) if isinstance(value, Key) else SecretStr(key)

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


def load_settings(config_file: str | Path | None = None, *, read_key: bool = True,
                  **flags: Any) -> Settings:
    """Settings from the flags given (None means "not given"), the environment and the
    config files. A key given among `flags` wins over every other, and no key file is
    read then; nor with `read_key=False` (a command that sends nothing)."""
    named, flag = (Path(config_file), "--config") if config_file else (None, "")
    if named is None and os.environ.get("PARTOO_CONFIG"):
        named, flag = Path(os.environ["PARTOO_CONFIG"]), "PARTOO_CONFIG"
    layers: list[tuple[Path, dict[str, Any]]] = []
    default = default_config_path()
    if default.is_file() and (named is None or not _same(default, named)):
        layers.append((default, _read_toml(default, "the default config file")))
    if named is not None:
        layers.append((named, _read_toml(named, flag)))
    origin: dict[str, Path] = {}  # key -> the file its value comes from
    file_values: dict[str, Any] = {}
    for path, values in layers:
        file_values.update(values)
        origin.update(dict.fromkeys(values, path))
    if isinstance(file_values.get("api_key"), str):
        file_values["api_key"] = Key(file_values["api_key"], f"api_key in {origin['api_key']}")
    init = {k: v for k, v in flags.items() if v is not None}
    if read_key and "api_key" not in init:
        init.update(_key_from_file(file_values, origin, layers))
    else:  # the caller's key wins (the Python API's settings), or no key is needed (plan)
        file_values.pop("api_key_file", None)
    token = _FILE_VALUES.set(file_values)
    try:
        return Settings(**init)
    except ValidationError as exc:
        raise ConfigError(explain(exc, origin, known=[*Settings.model_fields, "api_key_file"],
                                  flagged=FLAGGED)) from None
    finally:
        _FILE_VALUES.reset(token)


def _key_from_file(file_values: dict[str, Any], origin: dict[str, Path],
                   layers: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """The key read from a key file, when that is where the key comes from: as a value
    that wins (PARTOO_API_KEY_FILE), or in place of the config files' `api_key`."""
    named_file = file_values.pop("api_key_file", None)
    env_file = os.environ.get("PARTOO_API_KEY_FILE", "")
    if env_file:
        if os.environ.get("PARTOO_API_KEY", "").strip():
            raise ConfigError("both PARTOO_API_KEY and PARTOO_API_KEY_FILE are set: unset "
                              "one of them (the file is the safer: it stays out of the "
                              "environment of every child process)")
        path = Path(env_file).expanduser()
        return {"api_key": read_key_file(path, "PARTOO_API_KEY_FILE", relative_to=None
                                         if path.is_absolute() else Path.cwd())}
    if named_file is None or os.environ.get("PARTOO_API_KEY", "").strip():
        return {}
    source = origin["api_key_file"]
    if "api_key" in file_values:
        if origin["api_key"] == source:
            raise ConfigError(f"{source}: both api_key and api_key_file are set: keep one")
        if [p for p, _ in layers].index(origin["api_key"]) > [p for p, _ in layers].index(
                source):
            return {}  # the named file's api_key wins over the default file's key file
    if not isinstance(named_file, str) or not named_file.strip():
        raise ConfigError(f"{source}: api_key_file must be a path (a string)")
    path = Path(named_file).expanduser()
    file_values["api_key"] = read_key_file(
        source.parent / path, f"api_key_file in {source}",
        relative_to=None if path.is_absolute() else source.parent.absolute())
    return {}


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _read_toml(path: Path, flag: str) -> dict[str, Any]:
    import tomllib  # only where a config file is: not on every run's start-up

    try:
        with path.open("rb") as f:
            values = tomllib.load(f)
            if "api_key" in values:  # where a key lives, the key file's rule applies
                check_secret_file(os.fstat(f.fileno()), f"{path} (it holds api_key)", path)
            return values
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file: check {flag}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}): see config.example.toml") from None


# --- what a settings error says: which setting, where it can be set (only flags that
# exist), what is wrong, and the value given, never a secret (not the key; a URL, the
# base URL's or the proxy's, without its password or query).

def explain(exc: ValidationError, origin: dict[str, Path], *, known: list[str],
            flagged: frozenset[str]) -> str:
    """One line per wrong setting: which, where it can be set, what is wrong."""
    import difflib  # only for a mistake: not on every run's start-up

    lines = ["invalid settings:"]
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "?"
        places = [f"--{name.replace('_', '-')}"] if name in flagged else []
        places.append(f"PARTOO_{name.upper()}")
        if name in origin:
            places.append(f"{name!r} in {origin[name]}")
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            lines.append(f"  {name!r} in {origin.get(name, 'the config file')}: unknown "
                         f"setting; {hint}see config.example.toml for the known ones")
            continue
        shown = _shown(name, err.get("input"))
        lines.append(f"  {name} ({', '.join(places[:-1])} or {places[-1]})" if len(places) > 1
                     else f"  {name} ({places[0]})")
        lines[-1] += f": {err['msg'].removeprefix('Value error, ')}{shown}"
    return "\n".join(lines)


def _shown(name: str, value: Any) -> str:
    """The value given, for the message; never a secret: not the key, and a URL without
    what may hold one (a password, a query)."""
    if name == "api_key":
        return ""
    if hasattr(value, "get_secret_value"):  # a SecretStr given as such (the Python API)
        value = value.get_secret_value()
    if name in ("base_url", "proxy") and isinstance(value, str):
        value = shown_url(value if name == "base_url" or "://" in value
                          else "http://" + value)
    elif name == "proxy":
        return ""
    return f" (got {value!r})"
