"""partoo-bulk: change thousands of Partoo conversations at once, safely.

The Python API (README, "Python API"; `worker.api`): `run_job`, `arun_job`, the
`JobResult` they return, `Settings`, and the errors they raise. Loaded on first use: the
CLI imports this package for its version, and `partoo-bulk --help` must not pay for
aiohttp and pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["JobResult", "PartooBulkError", "RunAborted", "Settings", "StartupError",
           "__version__", "arun_job", "run_job"]

if TYPE_CHECKING:
    from worker.api import (
        JobResult,
        PartooBulkError,
        RunAborted,
        Settings,
        StartupError,
        arun_job,
        run_job,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module("worker.api"), name)
        globals()[name] = value  # once: later look-ups do not come back here
        return value
    raise AttributeError(f"module 'worker' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
