"""The run-control object: why a run stopped, and the tasks it may cancel.

One `RunControl` per run, built by whoever starts the run (the runner, `verify`) and
handed to the engine and to one row's work. It is the only state they share, and it
flows one way: they report into it (a stop, a request going out), the signal handler
and the runner act on it. Nothing in it calls back up.

- `halt(reason, detail)`: the first stop wins and is kept as a `Stop`; no new request
  starts; tasks that are waiting (for a permit, a backoff, a slot) are cancelled now;
  requests in flight finish.
- `cancel()`: the requests in flight are cancelled too (a second signal, the drain
  deadline, a report that cannot be written).
- `close_window_at(when)` (`run --finish-by`): at that loop time the run halts with
  `StopReason.WINDOW`; and `may_start()`, asked just before each request goes out (after
  its rate permit), says no once the window has closed or the run is stopping, so no
  request starts after it, however late a timer fires.

Decisions are made on `Stop.reason`, a `str` Enum, never by searching the message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from worker.core.stops import Stop, StopReason

__all__ = ["RunControl"]

T = TypeVar("T")


class RunControl:
    def __init__(self) -> None:
        self.stop: Stop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._in_request: set[asyncio.Task[Any]] = set()
        self._closes_at: float | None = None  # loop time (`run --finish-by`)
        self._window_detail = ""

    @property
    def stopping(self) -> bool:
        return self.stop is not None

    @property
    def aborted(self) -> bool:
        return self.stop is not None and self.stop.aborted

    def reason_text(self) -> str:
        """What a row left unfinished says about why."""
        return self.stop.detail if self.stop is not None else "interrupted"

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start a task the run may cancel; it is forgotten once done."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def tasks(self) -> set[asyncio.Task[Any]]:
        return set(self._tasks)

    def requesting(self) -> _Requesting:
        """Around one request: a halt lets it finish (only `cancel()` cuts it)."""
        task = asyncio.current_task()
        assert task is not None
        return _Requesting(self._in_request, task)

    def halt(self, reason: StopReason, detail: str) -> None:
        """No new request starts; idle waits end now; requests in flight finish."""
        if self.stop is None:
            self.stop = Stop(reason, detail)
        for task in self._tasks - self._in_request:
            task.cancel()

    def close_window_at(self, loop_deadline: float, detail: str) -> asyncio.TimerHandle:
        """From `loop_deadline` (the running loop's time) on, no request starts: the run
        halts with `StopReason.WINDOW` and `detail`. Returns the timer (cancel it when the
        run ends first)."""
        self._closes_at, self._window_detail = loop_deadline, detail
        loop = asyncio.get_running_loop()
        return loop.call_at(loop_deadline, self.halt, StopReason.WINDOW, detail)

    def may_start(self) -> bool:
        """May a request go out now? No once the run is stopping or its window closed
        (then it halts here, should the window's timer not have fired yet)."""
        if (self._closes_at is not None and self.stop is None
                and asyncio.get_running_loop().time() >= self._closes_at):
            self.halt(StopReason.WINDOW, self._window_detail)
        return self.stop is None

    def cancel(self) -> None:
        """Cancel the requests in flight as well."""
        self.halt(StopReason.INTERRUPTED, "interrupted")
        for task in self._tasks:
            task.cancel()


class _Requesting:
    """`RunControl.requesting()`: a plain class, as cheap as a context manager gets."""

    __slots__ = ("_task", "_tasks")

    def __init__(self, tasks: set[asyncio.Task[Any]], task: asyncio.Task[Any]) -> None:
        self._tasks, self._task = tasks, task

    def __enter__(self) -> None:
        self._tasks.add(self._task)

    def __exit__(self, *exc: object) -> None:
        self._tasks.discard(self._task)
