"""The engine: operations in, results out, in row order, paced, bounded and retried.

    items (Operation | Result, in row order)
      -> window (at most `window` rows between the oldest unfinished and the newest read)
      -> one task per conversation chain, spawned only when a concurrency slot is free
      -> per request: rate permit, then `send` (one PATCH), retried per `RetryPolicy`
      -> if the last answer left it open whether the change landed: `read_back` (one GET)
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
import dataclasses
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from worker import results
from worker.breaker import Breaker
from worker.errors import RateLimited, RequestError, TransientError, Unauthorized, Unexpected
from worker.operations import Operation
from worker.ordering import InOrder
from worker.outcomes import Outcome, Result
from worker.ratelimit import Aimd, RateLimiter
from worker.readback import describe_state, holds
from worker.retry import RetryPolicy, Tally
from worker.undo import Prior

__all__ = ["Engine"]

Send = Callable[[Operation], Awaitable[object]]
Emit = Callable[[Result], None]
ReadBack = Callable[[Operation], Awaitable[Prior]]


class Capture(Protocol):
    """Reads a conversation's state before its first change (for `--undo-out`)."""

    def needed(self, conversation_id: int) -> bool: ...
    async def __call__(self, op: Operation) -> object: ...


class _Interrupted(Exception):
    """Raised inside an operation's retry loop when the run stops between attempts."""


class Engine:
    def __init__(self, send: Send, limiter: RateLimiter, policy: RetryPolicy, *,
                 concurrency: int, window: int = 5000, aimd: Aimd | None = None,
                 breaker: Breaker | None = None, capture: Capture | None = None,
                 read_back: ReadBack | None = None, method: str = "PATCH") -> None:
        self._send = send
        self._method = method  # what `send` does, for the request log
        self._capture = capture
        self._read_back = read_back
        # One retry at most: a read-back follows failures, and must not double the load
        # on an API that is already failing.
        self._read_policy = dataclasses.replace(policy,
                                                max_attempts=min(policy.max_attempts, 2))
        self._limiter = limiter
        self._policy = policy
        self._aimd = aimd
        self._breaker = breaker
        self._slots = asyncio.Semaphore(concurrency)
        self._window = max(window, concurrency)
        self._chains: dict[int, deque[Operation]] = {}  # conversation -> rows waiting on it
        self._tasks: set[asyncio.Task[None]] = set()
        self._unstarted: set[int] = set()  # rows whose chain task has not run a step yet
        self._in_request: set[asyncio.Task[None]] = set()
        self._in_order = InOrder(lambda result: None, self._window)
        self.stop_reason: str | None = None
        self.aborted = False

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
                    self._finish(await self._process(current, tally))
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

    async def _process(self, op: Operation, tally: Tally) -> Result:
        """All of one row's requests: the state capture if one is due, then the PATCH."""
        steps: list[tuple[str, Send]] = [(self._method, self._send)]
        if self._capture is not None and self._capture.needed(op.conversation_id):
            steps.insert(0, ("GET", self._capture))
        send: Send = self._send
        try:
            for method, send in steps:
                await self._policy.run(
                    functools.partial(self._attempt, op, tally, method, send), tally)
        except _Interrupted as exc:
            return results.skipped(op, tally, self._reason(), cause=exc.__cause__)
        except Exception as exc:
            if not isinstance(exc, RequestError):
                reason = f"internal error ({type(exc).__name__}: {exc})"
                self.abort(reason)
                return results.done(op, tally, Outcome.FAILED, None, reason)
            if (tally.maybe_applied and self._read_back is not None
                    and not isinstance(exc, Unauthorized) and self.stop_reason is None):
                return await self._settle(op, tally, exc)
            self._after_failure(exc)
            text = results.failure_text(exc, tally, self._policy)
            if send is self._capture:
                text = f"not changed: reading its state for the undo file failed: {text}"
            return results.done(op, tally, Outcome.FAILED, exc.http_status, text)
        if self._breaker is not None:
            self._breaker.record(bad=False)
        return results.done(op, tally, Outcome.OK, 200, "")

    async def _settle(self, op: Operation, tally: Tally, exc: RequestError) -> Result:
        """The change's last answer did not say whether it landed: read the conversation."""
        assert self._read_back is not None
        reads = Tally()  # the read's own retry budget; its counts join the row's after
        read_exc: RequestError | None = None
        try:
            state = await self._read_policy.run(
                functools.partial(self._attempt, op, reads, "GET", self._read_back), reads)
        except _Interrupted:
            tally.add_reads(reads)
            return results.skipped(op, tally, self._reason(), cause=exc)
        except RequestError as failed_read:
            read_exc = failed_read
        except asyncio.CancelledError:
            tally.add_reads(reads)
            raise
        if read_exc is not None:
            text = (f"{results.failure_text(exc, tally, self._policy)}; reading it back "
                    f"failed too: {read_exc.message}")
            outcome, status = Outcome.FAILED, exc.http_status
            self._after_failure(read_exc if isinstance(read_exc, Unauthorized) else exc)
        elif holds(state, op):
            text = ("applied, as reading it back shows; the answer to the change was lost "
                    f"({exc.message})")
            outcome, status = Outcome.OK, 200
            if self._breaker is not None:
                self._breaker.record(bad=False)
        else:
            text = results.failure_text(
                exc, tally, self._policy,
                settled=f"not applied: reading it back shows {describe_state(state, op)}")
            outcome, status = Outcome.FAILED, exc.http_status
            self._after_failure(exc)
        tally.add_reads(reads)
        return results.done(op, tally, outcome, status, text)

    async def _attempt(self, op: Operation, tally: Tally, method: str, send: Send) -> object:
        await self._limiter.acquire()
        loop = asyncio.get_running_loop()
        tally.requests += 1
        if tally.first_sent_at is None:
            tally.first_sent_at = loop.time()
        task = asyncio.current_task()
        assert task is not None
        self._in_request.add(task)
        sent_at = loop.time()
        if send is not self._send:
            tally.reads += 1
        try:
            answer = await send(op)
        except asyncio.CancelledError:
            tally.cut_in_flight = True
            raise
        except RequestError as exc:
            results.log_request(method, op, tally, exc.http_status, loop.time() - sent_at,
                                exc.message)
            if send is self._send and exc.may_have_applied:
                tally.maybe_applied = True
            if isinstance(exc, RateLimited):
                self._on_rate_limited(exc, tally)
            if isinstance(exc, TransientError) and self.stop_reason is not None:
                raise _Interrupted() from exc  # no retry once the run is stopping
            raise
        finally:
            self._in_request.discard(task)
        tally.ok += 1
        results.log_request(method, op, tally, 200, loop.time() - sent_at, "")
        if self._aimd is not None:
            self._aimd.on_success()
        return answer

    def _on_rate_limited(self, exc: RateLimited, tally: Tally) -> None:
        """One pause for every sender, and one signal to the adaptive rate."""
        pause = self._policy.pause_for(exc.retry_after_s)
        tally.throttled += 1
        tally.throttled_wait_s += pause
        tally.asked_wait_s = max(tally.asked_wait_s, exc.retry_after_s or 0.0)
        self._limiter.pause(pause)
        if self._aimd is not None:
            self._aimd.on_throttled()

    def _after_failure(self, exc: RequestError) -> None:
        if isinstance(exc, Unauthorized):
            self.abort(f"the API answered 401 ({exc.message})")
        elif self._breaker is not None:
            # Rows the API refused are the rows' fault; transient failures that outlived
            # their retries, and answers that are not Partoo's, are the server's.
            bad = isinstance(exc, TransientError | Unexpected)
            if self._breaker.record(bad=bad):
                self.abort(self._breaker.explain(
                    exc.message, throttled=isinstance(exc, RateLimited)))

    def _reason(self) -> str:
        return self.stop_reason or "interrupted"

    def _skipped(self, op: Operation, tally: Tally, *, in_flight: bool = False) -> Result:
        return results.skipped(op, tally, self._reason(), in_flight=in_flight)

    def _finish(self, result: Result) -> None:
        self._in_order.add(result)
