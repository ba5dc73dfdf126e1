"""Signals during a run: the first stops gracefully with a deadline, the second at once.

Only on the main thread (the only one Python delivers signals to, and the only one
`add_signal_handler` works on): a run in a worker thread, as an orchestrator's task runs,
installs nothing and is stopped by cancelling it. The handlers the process had before
(its host's, if it has one) are put back when the run ends. Where the loop has no
`add_signal_handler` (Windows' proactor loop), `signal.signal` installs them, and the
handler hands the signal to the loop (`call_soon_threadsafe`).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any

from worker import logs
from worker.core.stops import StopReason
from worker.sending.control import RunControl

__all__ = ["DRAIN_TIMEOUT_S", "graceful_signals"]

# How long the requests in flight may take to come back after the first signal (README:
# "Stopping and resuming"), for `run` and `select` alike.
DRAIN_TIMEOUT_S = 10.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class graceful_signals:
    """Install SIGINT/SIGTERM handlers on the running loop for the `with` block.

    First signal: `control.halt()` (no new request; in-flight ones finish) and, after
    `drain_timeout_s`, `control.cancel()`. Second signal: `control.cancel()` at once.
    Does nothing off the main thread, or when `enabled` is false (the Python API).
    """

    def __init__(self, control: RunControl, drain_timeout_s: float, *,
                 enabled: bool = True) -> None:
        self._control = control
        self._drain_timeout_s = drain_timeout_s
        self._count = 0
        self._enabled = enabled and threading.current_thread() is threading.main_thread()
        self._previous: dict[signal.Signals, Any] = {}
        self._on_loop: set[signal.Signals] = set()  # by add_signal_handler, not signal.signal

    def __enter__(self) -> graceful_signals:
        if not self._enabled:
            return self
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            self._previous[sig] = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                self._on_loop.add(sig)
            except NotImplementedError:  # Windows: no add_signal_handler on its loops
                signal.signal(sig, self._from_signal_module(loop))
        return self

    def _from_signal_module(self, loop: asyncio.AbstractEventLoop) -> Any:
        def handler(signum: int, frame: object) -> None:
            loop.call_soon_threadsafe(self._on_signal, signal.Signals(signum))
        return handler

    def _on_signal(self, sig: signal.Signals) -> None:
        self._count += 1
        if self._count == 1:
            logs.event("stopping", f"\npartoo-bulk: {sig.name}: finishing the requests in "
                       f"flight (up to {self._drain_timeout_s:g} s); press Ctrl-C again to "
                       "stop at once", level=logs.WARNING, signal=sig.name)
            self._control.halt(StopReason.INTERRUPTED, f"run interrupted ({sig.name})")
            asyncio.get_running_loop().call_later(self._drain_timeout_s, self._control.cancel)
        else:
            self._control.cancel()

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig, previous in self._previous.items():
            if sig in self._on_loop:
                loop.remove_signal_handler(sig)  # sets the default: put back the old one
            if previous is not None:
                signal.signal(sig, previous)
        self._previous.clear()
        self._on_loop.clear()
