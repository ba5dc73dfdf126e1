"""What a settings error says: which setting, where it can be set (only flags that exist),
what is wrong, and the value given, never a secret (not the key; a URL without its
password or query)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

__all__ = ["explain"]


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
    if name == "base_url" and isinstance(value, str):
        parts = urlsplit(value.strip())
        host = parts.netloc.rpartition("@")[2]
        hidden = "***@" if "@" in parts.netloc else ""
        rest = "?…" if parts.query or parts.fragment else ""
        value = f"{parts.scheme}://{hidden}{host}{parts.path}{rest}" if parts.scheme \
            else "(not a URL)"
    return f" (got {value!r})"
