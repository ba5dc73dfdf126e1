"""Stop signals: during a run, the first stops gracefully with a deadline, the second at
once; outside a run's engine (a prompt, a canary's read-back), any of them ends the wait.

The stop signals (`stop_signals`): SIGINT (Ctrl-C), SIGTERM (kill, systemd, Kubernetes),
SIGHUP (the terminal or the SSH session went away) and SIGQUIT (Ctrl-\\). Each stops a
run the same way, with its summary, summary JSON and metrics. A SIGHUP the process
inherited as ignored stays ignored: `nohup` asked for a run that outlives its terminal.
SIGINT and SIGQUIT are handled even when inherited as ignored: a shell ignores them in
every `cmd &` of a script, which is no choice of the operator's, and a run that shrugs
off `kill -INT` would be one no one can stop gently.

Only on the main thread (the only one Python delivers signals to, and the only one
`add_signal_handler` works on): a run in a worker thread, as an orchestrator's task runs,
installs nothing and is stopped by cancelling it. The handlers the process had before
(its host's, if it has one) are put back when the block ends. Where the loop has no
`add_signal_handler` (Windows' proactor loop), `signal.signal` installs them, and the
handler hands the signal to the loop (`call_soon_threadsafe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from worker import logs
from worker.core.stops import StopReason
from worker.sending.control import RunControl

__all__ = ["DRAIN_TIMEOUT_S", "Interrupting", "StopSignal", "again", "graceful_signals",
           "interrupting", "stop_signals"]

# How long the requests in flight may take to come back after the first signal (README:
# "Stopping and resuming"), for `run` and `select` alike.
DRAIN_TIMEOUT_S = 10.0
# Absent on Windows: there, Ctrl-C and SIGTERM only.
_OPTIONAL: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGHUP", "SIGQUIT") if hasattr(signal, name))


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that stop this process's runs now (see the module's docstring)."""
    hup = getattr(signal, "SIGHUP", None)
    return tuple(sig for sig in (signal.SIGINT, signal.SIGTERM, *_OPTIONAL)
                 if sig is not hup or signal.getsignal(sig) is not signal.SIG_IGN)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def again(sig: signal.Signals) -> str:
    """What a second signal does, said in the words of the one that came."""
    if sig is signal.SIGINT:
        return "press Ctrl-C again to stop at once"
    return f"send {sig.name} again (kill -{sig.name[3:]} {os.getpid()}) to stop at once"


class graceful_signals:
    """Install the stop signals' handlers on the running loop for the `with` block.

    First signal: `control.halt()` (no new request; in-flight ones finish) and, after
    `drain_timeout_s`, `control.cancel()`. Second signal: `control.cancel()` at once.
    Does nothing off the main thread, or when `enabled` is false (the Python API).
    """

    def __init__(self, control: RunControl, drain_timeout_s: float, *,
                 enabled: bool = True) -> None:
        self._control = control
        self._drain_timeout_s = drain_timeout_s
        self._count = 0
        self._enabled = enabled and _on_main_thread()
        self._previous: dict[signal.Signals, Any] = {}
        self._on_loop: set[signal.Signals] = set()  # by add_signal_handler, not signal.signal

    def __enter__(self) -> graceful_signals:
        if not self._enabled:
            return self
        loop = asyncio.get_running_loop()
        for sig in stop_signals():
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
                       f"flight (up to {self._drain_timeout_s:g} s); {again(sig)}",
                       level=logs.WARNING, signal=sig.name)
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


class StopSignal(KeyboardInterrupt):
    """A stop signal, raised where Ctrl-C would raise `KeyboardInterrupt`: names it."""

    def __init__(self, sig: signal.Signals) -> None:
        super().__init__(sig.name)
        self.signal = sig


class Interrupting:
    """What `interrupting()` yields: the stop signal that ended the block, if one did."""

    def __init__(self) -> None:
        self.came: signal.Signals | None = None

    def which(self, exc: KeyboardInterrupt) -> signal.Signals:
        """The signal behind `exc`, caught from the block. A plain `KeyboardInterrupt`
        with nothing recorded came from Python's own SIGINT handler (asyncio's, in a
        loop): a Ctrl-C."""
        if isinstance(exc, StopSignal):
            return exc.signal
        return self.came or signal.SIGINT


@contextlib.contextmanager
def interrupting(*, enabled: bool = True, loops: bool = False) -> Iterator[Interrupting]:
    """Every stop signal ends the block as Ctrl-C does: `StopSignal`, a `KeyboardInterrupt`.

    For waits outside a run's engine, where no `graceful_signals` is installed: a
    question on the terminal (a blocking read, which the signal must break at once), or
    a canary's read-back. `loops`: the block runs event loops of its own (`asyncio.run`);
    there an exception raised from a handler would land in whatever task runs, so SIGINT
    gets Python's default handler (which `asyncio.run` replaces with its own: it cancels
    its main task cleanly, then raises `KeyboardInterrupt`) and the other signals are
    passed on as a SIGINT, noted in `came`. The handlers before are put back on the way
    out. Only on the main thread, and with `enabled` (the CLI's); else the block runs
    as it is.
    """
    caught = Interrupting()
    if not (enabled and _on_main_thread()):
        yield caught
        return

    def handler(signum: int, frame: object) -> None:
        sig = signal.Signals(signum)
        if not loops:
            raise StopSignal(sig)
        caught.came = sig
        signal.raise_signal(signal.SIGINT)

    previous = {sig: signal.getsignal(sig) for sig in stop_signals()}
    try:
        for sig in previous:
            inherit = loops and sig is signal.SIGINT
            signal.signal(sig, signal.default_int_handler if inherit else handler)
        yield caught
    finally:
        for sig, before in previous.items():
            if before is not None:
                signal.signal(sig, before)
