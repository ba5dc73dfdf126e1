"""The engine: items in, results out, in row order, bounded, each row's work done once.

    items (rows to work on, or a `Result` already known, in row order)
      -> window (at most `window` rows between the oldest unfinished and the newest read)
      -> one task per conversation chain, spawned only when the concurrency gate lets
         one more row start (`worker.sending.concurrency`: as many as the rate needs at
         the current latency, up to the cap)
      -> per row: `work.run(item, tally)` (a run's `worker.sending.row.RowWork`, verify's
         reads), every request through the one request path (`worker.sending.requester`)
      -> `emit(result)` strictly in row order (`InOrder`: results finish in any order)

Rows that touch the same conversation run one after another in file order, in one chain
task holding one slot, so the last row in the file decides the conversation's state
whatever the retries. Memory is bounded by the window, not by the job's size.

Stopping is the `RunControl`'s (`worker.sending.control`): once it is halted no new row
starts, and every row not finished is emitted `skipped` by `work.skipped`, with the
reason, so the report stays whole. The engine reads the control; it never decides a stop.

The reorder window (`InOrder`): `add(result)` holds a result until every earlier row is
out, then hands the run of consecutive rows to `emit`; `wait_for_room(row)` is where the
engine stops reading the job while `row` is `window` rows or more ahead of the oldest
row still unfinished.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, Protocol, TypeVar

from worker.core.outcomes import Result
from worker.sending.concurrency import Concurrency
from worker.sending.control import RunControl
from worker.sending.retrypolicy import Tally

__all__ = ["Engine", "InOrder", "Item", "Work"]

Emit = Callable[[Result], None]


class Item(Protocol):
    """What the engine needs of a row: its place in the file and its conversation."""

    @property
    def row(self) -> int: ...
    @property
    def conversation_id(self) -> int: ...


I = TypeVar("I", bound=Item)  # noqa: E741  (a run's Operation, verify's check)
I_contra = TypeVar("I_contra", bound=Item, contravariant=True)


class Work(Protocol[I_contra]):
    """One row's work: `run` does it (never raises but `CancelledError`); `skipped` is
    the row's result when the run stopped before it finished."""

    def run(self, item: I_contra, tally: Tally) -> Awaitable[Result]: ...
    def skipped(self, item: I_contra, tally: Tally, reason: str, *,
                in_flight: bool = False) -> Result: ...


class Engine(Generic[I]):
    """`concurrency`: the gate, shared with the row's work, which says when a row is
    busy (`worker.sending.stack.pacing` builds both)."""

    def __init__(self, work: Work[I], control: RunControl, *,
                 concurrency: Concurrency, window: int = 5000) -> None:
        self._work = work
        self._control = control
        self._slots = concurrency
        self._window = max(window, self._slots.cap)
        self._chains: dict[int, deque[I]] = {}  # conversation -> rows waiting on it
        self._unstarted: set[int] = set()  # rows whose chain task has not run a step yet
        self._in_order = InOrder(lambda result: None, self._window)

    @property
    def control(self) -> RunControl:
        return self._control

    def waiting(self) -> list[Result]:
        """Rows finished but not yet emitted: they wait for an earlier, slower row."""
        return self._in_order.held()

    async def run(self, items: Iterable[I | Result], emit: Emit, *,
                  first_row: int = 1) -> None:
        """`first_row`: the row `items` starts at (a resume copied the earlier ones)."""
        self._in_order = in_order = InOrder(emit, self._window, first_row)
        control, chains, slots = self._control, self._chains, self._slots
        try:
            for item in items:
                # Awaited only when there is a wait: a coroutine per row costs as much
                # as the rest of this loop.
                if not in_order.has_room(item.row):
                    await in_order.wait_for_room(item.row)
                if isinstance(item, Result):
                    self._finish(item)
                elif control.stopping:
                    self._finish(self._skipped(item, Tally()))
                elif item.conversation_id in chains:
                    chains[item.conversation_id].append(item)
                else:
                    if not slots.try_acquire():
                        await slots.acquire()  # the gate: a task exists only with a slot
                    self._spawn(item)
            while tasks := control.tasks():
                await asyncio.wait(tasks)
        finally:
            # Cancelled from outside (the caller's task): the chains record their rows
            # `skipped` now, while `emit`'s report is still open, not after it closed.
            tasks = control.tasks()
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)

    def _spawn(self, item: I) -> None:
        if self._control.stopping:
            self._slots.release()
            self._finish(self._skipped(item, Tally()))
            return
        self._chains[item.conversation_id] = deque()
        self._unstarted.add(item.row)
        task = self._control.spawn(self._chain(item))
        task.add_done_callback(functools.partial(self._chain_done, item))

    def _chain_done(self, item: I, task: asyncio.Task[None]) -> None:
        """A task cancelled before its first step never runs `_chain` (nor its `finally`):
        finish its rows and give its slot back here, or they would be lost."""
        if item.row not in self._unstarted:
            return
        self._unstarted.discard(item.row)
        waiting = self._chains.pop(item.conversation_id, deque())
        self._finish(self._skipped(item, Tally()))
        while waiting:
            self._finish(self._skipped(waiting.popleft(), Tally()))
        self._slots.release()

    async def _chain(self, first: I) -> None:
        """Run `first`, then every later row for the same conversation, in file order."""
        self._unstarted.discard(first.row)
        waiting = self._chains[first.conversation_id]
        current: I | None = first
        tally = Tally()
        try:
            while current is not None:
                tally = Tally()
                if self._control.stopping:
                    self._finish(self._skipped(current, tally))
                else:
                    self._finish(await self._work.run(current, tally))
                current = waiting.popleft() if waiting else None
        except asyncio.CancelledError:
            if current is not None:
                self._finish(self._skipped(current, tally, in_flight=tally.cut_in_flight))
            while waiting:
                self._finish(self._skipped(waiting.popleft(), Tally()))
            raise
        finally:
            del self._chains[first.conversation_id]
            self._slots.release()

    def _skipped(self, item: I, tally: Tally, *, in_flight: bool = False) -> Result:
        return self._work.skipped(item, tally, self._control.reason_text(),
                                  in_flight=in_flight)

    def _finish(self, result: Result) -> None:
        self._in_order.add(result)


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
