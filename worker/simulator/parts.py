"""What the HTTP handlers and the admin API need of the simulator: its parts, as a type.

`Simulator` (server.py) builds the handlers and the admin API and has these parts; they
are typed against this protocol, not against `Simulator`, so neither imports the module
that imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from .faults import FaultInjector, Faults
from .state import SimState
from .tokenbucket import KeyedRateLimiter

__all__ = ["SimulatorParts"]


class SimulatorParts(Protocol):
    state: SimState
    faults: Faults
    keys: set[str]
    clock: Callable[[], float]
    injector: FaultInjector
    limiter: KeyedRateLimiter | None

    def script(self, conversation_id: int, steps: Iterable[str | int]) -> None: ...
    def set_rate_limit(self, rate_per_minute: float | None,
                       burst: int | None = None) -> None: ...
