"""The reorder window: results finish in any order, the report receives them in row order.

`InOrder.add(result)` holds a result until every earlier row is out, then hands the run
of consecutive rows to `emit`. `wait_for_room(row)` is where the engine stops reading
the job while `row` is `window` rows or more ahead of the oldest row still unfinished,
so memory is bounded by the window, not by the job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from worker.core.outcomes import Result

__all__ = ["InOrder"]


class InOrder:
    def __init__(self, emit: Callable[[Result], None], window: int,
                 first_row: int = 1) -> None:
        self._emit = emit
        self._window = window
        self._held: dict[int, Result] = {}  # done, waiting for earlier rows
        self._next_row = first_row  # after the rows a resume copied as they were
        self._advanced = asyncio.Event()

    def has_room(self, row: int) -> bool:
        return row - self._next_row < self._window

    async def wait_for_room(self, row: int) -> None:
        while row - self._next_row >= self._window:
            self._advanced.clear()
            await self._advanced.wait()

    def held(self) -> list[Result]:
        """The results done but waiting for an earlier row, in row order."""
        return sorted(self._held.values(), key=lambda r: r.row)

    def add(self, result: Result) -> None:
        if result.row in self._held or result.row < self._next_row:
            return  # already recorded (a cancel racing a normal finish)
        self._held[result.row] = result
        while self._next_row in self._held:
            self._emit(self._held.pop(self._next_row))
            self._next_row += 1
        self._advanced.set()
