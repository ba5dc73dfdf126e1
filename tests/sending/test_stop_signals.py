"""Which signals stop a run, and `interrupting()`: any of them ends a wait outside a
run's engine, in plain code and inside an event loop, whatever SIGINT was inherited as."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from worker.sending.signals import StopSignal, interrupting, stop_signals


@pytest.fixture
def inherited() -> Iterator[dict[signal.Signals, object]]:
    """Set handlers as a parent process would have left them; put back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGHUP)}
    yield saved
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_sighup_ignored_by_nohup_stays_ignored_sigint_ignored_by_a_shell_does_not(
        inherited):
    assert set(stop_signals()) == {signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                   signal.SIGQUIT}
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # nohup
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # `cmd &` in a script
    assert set(stop_signals()) == {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                 signal.SIGQUIT], ids=lambda s: s.name)
def test_a_stop_signal_ends_a_blocking_wait_and_says_which(sig, inherited):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    before = {s: signal.getsignal(s) for s in stop_signals()}
    read_end, write_end = os.pipe()
    with pytest.raises(StopSignal) as raised, interrupting() as caught:
        # The signal comes while the read blocks, as a prompt's does: it must break it.
        killer = subprocess.Popen(["sh", "-c", f"sleep 0.1; kill -{sig.name[3:]} "
                                   f"{os.getpid()}"])
        os.read(read_end, 1)
    killer.wait()
    os.close(read_end)
    os.close(write_end)
    assert caught.which(raised.value) is sig
    assert {s: signal.getsignal(s) for s in stop_signals()} == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                                 signal.SIGINT], ids=lambda s: s.name)
def test_inside_an_event_loop_it_cancels_the_main_task_even_with_sigint_ignored(
        sig, inherited):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as every `cmd &` of a script leaves it
    cancelled = []

    async def reading_back() -> None:
        asyncio.get_running_loop().call_later(0.01, os.kill, os.getpid(), sig)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)  # asyncio's handler cancelled it: cleanly
            raise

    with pytest.raises(KeyboardInterrupt) as raised, interrupting(loops=True) as caught:
        asyncio.run(reading_back())
    assert cancelled == [True]
    assert caught.which(raised.value) is sig
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # put back


def test_disabled_it_installs_nothing(inherited):
    before = signal.getsignal(signal.SIGTERM)
    with interrupting(enabled=False):
        assert signal.getsignal(signal.SIGTERM) is before
