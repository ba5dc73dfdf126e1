"""Signals during a run: the first stops gracefully with a deadline, the second at once."""

from __future__ import annotations

import asyncio
import signal

from worker import logs
from worker.sending.control import RunControl, StopReason

__all__ = ["graceful_signals"]


class graceful_signals:
    """Install SIGINT/SIGTERM handlers on the running loop for the `with` block.

    First signal: `control.halt()` (no new request; in-flight ones finish) and, after
    `drain_timeout_s`, `control.cancel()`. Second signal: `control.cancel()` at once.
    """

    def __init__(self, control: RunControl, drain_timeout_s: float) -> None:
        self._control = control
        self._drain_timeout_s = drain_timeout_s
        self._count = 0

    def __enter__(self) -> graceful_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        return self

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
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
