"""The engine: operations in, results out, in row order, paced, bounded and retried.

    items (Operation | Result, in row order)
      -> window (at most `window` rows between the oldest unfinished and the newest read)
      -> one task per conversation chain, spawned only when a concurrency slot is free
      -> per row: `RowWork` (rate permit, PATCH, retries, read-back when an answer was lost)
      -> `emit(result)` strictly in row order

Rows that touch the same conversation run one after another in file order, in one chain
task holding one slot, so the last row in the file decides the conversation's state
whatever the retries. Memory is bounded by the window, not by the job's size.

Stopping is a designed path. `stop(reason)` (first SIGINT/SIGTERM): no new request
starts; tasks waiting for a permit or a backoff are cancelled; requests in flight finish.
`abort(reason)` does the same for a run that must not go on (401, circuit breaker).
`cancel()` (second signal, or the drain deadline): cancel the requests in flight too.
Every row not finished is emitted `skipped` with the reason, so the report stays whole.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable, Iterable

from worker.core.operations import Operation
from worker.core.outcomes import Result
from worker.sending import results
from worker.sending.aimd import Aimd
from worker.sending.breaker import Breaker
from worker.sending.ordering import InOrder
from worker.sending.ratelimit import RateLimiter
from worker.sending.retrypolicy import RetryPolicy, Tally
from worker.sending.rowwork import Capture, ReadBack, RowWork, Send

__all__ = ["Engine"]

Emit = Callable[[Result], None]


class Engine:
    def __init__(self, send: Send, limiter: RateLimiter, policy: RetryPolicy, *,
                 concurrency: int, window: int = 5000, aimd: Aimd | None = None,
                 breaker: Breaker | None = None, capture: Capture | None = None,
                 read_back: ReadBack | None = None, method: str = "PATCH") -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._window = max(window, concurrency)
        self._chains: dict[int, deque[Operation]] = {}  # conversation -> rows waiting on it
        self._tasks: set[asyncio.Task[None]] = set()
        self._unstarted: set[int] = set()  # rows whose chain task has not run a step yet
        self._in_request: set[asyncio.Task[None]] = set()
        self._in_order = InOrder(lambda result: None, self._window)
        self.stop_reason: str | None = None
        self.aborted = False
        self._work = RowWork(send, limiter, policy, stop_reason=lambda: self.stop_reason,
                             abort=self.abort, in_request=self._in_request, aimd=aimd,
                             breaker=breaker, capture=capture, read_back=read_back,
                             method=method)

    def stop(self, reason: str) -> None:
        """No new request starts; idle waits end now; requests in flight finish."""
        if self.stop_reason is None:
            self.stop_reason = reason
        for task in self._tasks - self._in_request:
            task.cancel()

    def abort(self, reason: str) -> None:
        self.aborted = self.aborted or self.stop_reason is None
        self.stop(reason)

    def cancel(self) -> None:
        """Cancel the requests in flight as well (second signal, or the drain deadline)."""
        self.stop("interrupted")
        for task in self._tasks:
            task.cancel()

    def waiting(self) -> list[Result]:
        """Rows finished but not yet emitted: they wait for an earlier, slower row."""
        return self._in_order.held()

    async def run(self, items: Iterable[Operation | Result], emit: Emit) -> None:
        self._in_order = InOrder(emit, self._window)
        try:
            for item in items:
                await self._in_order.wait_for_room(item.row)
                if isinstance(item, Result):
                    self._finish(item)
                elif self.stop_reason is not None:
                    self._finish(self._skipped(item, Tally()))
                elif item.conversation_id in self._chains:
                    self._chains[item.conversation_id].append(item)
                else:
                    await self._slots.acquire()  # the gate: a task exists only with a slot
                    self._spawn(item)
            while self._tasks:
                await asyncio.wait(set(self._tasks))
        finally:
            for task in self._tasks:
                task.cancel()

    def _spawn(self, op: Operation) -> None:
        if self.stop_reason is not None:
            self._slots.release()
            self._finish(self._skipped(op, Tally()))
            return
        self._chains[op.conversation_id] = deque()
        self._unstarted.add(op.row)
        task = asyncio.create_task(self._chain(op))
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._chain_done, op))

    def _chain_done(self, op: Operation, task: asyncio.Task[None]) -> None:
        """A task cancelled before its first step never runs `_chain` (nor its `finally`):
        finish its rows and give its slot back here, or they would be lost."""
        self._tasks.discard(task)
        if op.row not in self._unstarted:
            return
        self._unstarted.discard(op.row)
        waiting = self._chains.pop(op.conversation_id, deque())
        self._finish(self._skipped(op, Tally()))
        while waiting:
            self._finish(self._skipped(waiting.popleft(), Tally()))
        self._slots.release()

    async def _chain(self, op: Operation) -> None:
        """Run `op`, then every later row for the same conversation, in file order."""
        self._unstarted.discard(op.row)
        waiting = self._chains[op.conversation_id]
        current: Operation | None = op
        tally = Tally()
        try:
            while current is not None:
                tally = Tally()
                if self.stop_reason is not None:
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
            del self._chains[op.conversation_id]
            self._slots.release()

    def _reason(self) -> str:
        return self.stop_reason or "interrupted"

    def _skipped(self, op: Operation, tally: Tally, *, in_flight: bool = False) -> Result:
        return results.skipped(op, tally, self._reason(), in_flight=in_flight)

    def _finish(self, result: Result) -> None:
        self._in_order.add(result)
