"""Ways to run the simulator besides `async with Simulator(...)` on the test's own loop.

- `SimulatorThread`: a `Simulator` on its own loop in a daemon thread, for tests that run
  the worker as a subprocess or from synchronous code.
- `serve_forever`: the foreground server behind `partoo-bulk simulate`.
`Simulator` and `DEMO_API_KEY` are re-exported here for convenience.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .faults import Faults
from .server import DEMO_API_KEY, Simulator
from .state import SimState, seeded_state

__all__ = ["DEMO_API_KEY", "Simulator", "SimulatorThread", "serve_forever"]

T = TypeVar("T")


class SimulatorThread:
    """A `Simulator` on its own event loop in a daemon thread.

    While it runs, touch the simulator only through `call()` (or `set_faults`/`script`),
    which run on its loop; after `stop()`, `state` may be read directly.
    """

    def __init__(self, simulator: Simulator | None = None) -> None:
        self.simulator = simulator if simulator is not None else Simulator()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 10.0) -> str:
        """Start and return `base_url` once the simulator is listening.

        May be called again after `stop()`, e.g. with the same port to bring a "crashed"
        server back: the state is kept.
        """
        # A restart must wait for the new loop, not return on the previous run's signals.
        self._ready.clear()
        self._error = None
        self._loop = None
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(host, port),), name="partoo-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"simulator did not start within {timeout_s} s")
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self.simulator.base_url

    async def _main(self, host: str, port: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            await self.simulator.start(host, port)
        except Exception as exc:  # e.g. the port is taken: re-raised by start()
            self._error = exc
            return
        finally:
            self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self.simulator.stop()

    def stop(self, timeout_s: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stopping is not None and thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        thread.join(timeout_s)

    def call(self, fn: Callable[[Simulator], T], timeout_s: float = 10.0) -> T:
        """Run `fn(simulator)` on the simulator's loop (directly if it is not running)."""
        if self._thread is None or self._loop is None:
            return fn(self.simulator)

        async def run() -> T:
            return fn(self.simulator)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout_s)

    def set_faults(self, faults: Faults) -> None:
        self.call(lambda sim: setattr(sim, "faults", faults))

    def script(self, conversation_id: int, steps: Iterable[str | int]) -> None:
        self.call(lambda sim: sim.script(conversation_id, list(steps)))

    @property
    def state(self) -> SimState:
        return self.simulator.state

    @property
    def base_url(self) -> str:
        return self.simulator.base_url

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_forever(port: int = 8080, host: str = "127.0.0.1", **options: Any) -> None:
    """Serve a seeded simulator until SIGINT or SIGTERM; print its base URL and API keys.

    Options: `n_conversations` (1000), `seed` (0), `record` (True), and any `Simulator`
    keyword (`keys`, `rate_per_minute`, `burst`, `faults`).
    """
    asyncio.run(_serve(host, port, **options))


async def _serve(
    host: str, port: int, *, n_conversations: int = 1000, seed: int = 0, record: bool = True,
    **simulator_options: Any,
) -> None:
    sim = Simulator(seeded_state(n_conversations, seed, record=record), **simulator_options)
    await sim.start(host, port)
    print(f"Partoo simulator: {sim.base_url}", flush=True)
    for key in sorted(sim.keys):
        print(f"API key (x-APIKey): {key}", flush=True)
    print(f"Server-side state and stats: {sim.root_url}/_sim/state, /_sim/stats", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await sim.stop()
        print(f"Partoo simulator stopped: {sim.state.log.stats()}", flush=True)
