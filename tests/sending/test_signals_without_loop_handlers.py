"""Signals where the loop has no `add_signal_handler` (Windows' proactor loop)."""

from __future__ import annotations

import asyncio
import os
import signal

from worker.sending.control import RunControl
from worker.sending.signals import graceful_signals


async def test_signals_are_handled_where_the_loop_cannot_install_them(monkeypatch):
    loop = asyncio.get_running_loop()

    def unsupported(*args: object) -> None:
        raise NotImplementedError  # as on Windows' proactor loop

    monkeypatch.setattr(loop, "add_signal_handler", unsupported)
    monkeypatch.setattr(loop, "remove_signal_handler", unsupported)
    before = signal.getsignal(signal.SIGTERM)
    control = RunControl()
    with graceful_signals(control, drain_timeout_s=30):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):
            if control.stopping:
                break
            await asyncio.sleep(0)  # the handler hands the signal to the loop
        assert control.stopping
    assert signal.getsignal(signal.SIGTERM) == before
