"""Settings: typed, frozen, from flags > environment > config files > defaults, and what
an error in them says (`settings`); their defaults (`defaults`); the way to the API they
give: proxy and extra CAs (`network`); `--finish-by WHEN` (`finishby`), its local times
by the machine's zone rules (`localzone`).

The settings model is pydantic's: it is imported on first use of `Settings`,
`load_settings`, `ca_files` or `proxy_for`, not by `import worker.config`, so that what
reads only a default (`--help`) or a submodule (`finishby`) does not load pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from worker.config.defaults import default

if TYPE_CHECKING:
    from worker.config.network import ca_files, proxy_for
    from worker.config.settings import Settings, load_settings

__all__ = ["Settings", "ca_files", "default", "load_settings", "proxy_for"]

_LAZY = {"Settings": "settings", "load_settings": "settings", "ca_files": "network",
         "proxy_for": "network"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"worker.config.{_LAZY[name]}"), name)
    globals()[name] = value  # looked up once
    return value
