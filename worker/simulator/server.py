"""`Simulator`: the simulated Partoo API served by aiohttp on a loopback port.

It wires the pieces together (state, faults, rate limiter, keys, routes) and owns the
server's lifetime. `app.py` has the other ways to run it (thread, foreground).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterable

from aiohttp import web

from .admin import AdminApi
from .faults import FaultInjector, Faults
from .handlers import V2Api
from .state import SimState, seeded_state
from .tokenbucket import Clock, KeyedRateLimiter

__all__ = ["DEMO_API_KEY", "Simulator"]

DEMO_API_KEY = "sim-demo-key"


class Simulator:
    """A Partoo API stand-in holding server-side truth in `state` (seeded if not given).

    Runtime knobs, read at every request: `faults` (assign a new `Faults`), `script()`,
    `set_rate_limit()`, `keys` (a set: discard a key to revoke it). `clock` drives the rate
    limiter and the log's timestamps; inject a fake one to test pacing without sleeping.
    `ssl_context` (a server context with its certificate) makes it an https server.
    """

    def __init__(
        self,
        state: SimState | None = None,
        *,
        keys: Iterable[str] = (DEMO_API_KEY,),
        rate_per_minute: float | None = None,
        burst: int | None = None,
        faults: Faults | None = None,
        clock: Clock = time.monotonic,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.state = state if state is not None else seeded_state()
        self.keys: set[str] = set(keys)
        self.clock = clock
        self.injector = FaultInjector(faults)
        self.limiter: KeyedRateLimiter | None = None
        self.set_rate_limit(rate_per_minute, burst)
        self._runner: web.AppRunner | None = None
        self._root_url: str | None = None
        # A server certificate: the simulator speaks https (to test a client's trust
        # store and CA bundle), its URLs say so.
        self._ssl_context = ssl_context

    @property
    def faults(self) -> Faults:
        return self.injector.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self.injector.faults = faults  # also restarts the random draws from faults.seed

    def script(self, conversation_id: int, steps: Iterable[str | int]) -> None:
        """Script the next PATCHes of one conversation, e.g. ["500", "reset", "ok"].

        Steps: "ok", "reset", "reset_after", "error_after", "html", "slow:<seconds>",
        "lose" (answer 200 success without applying: a change that does not hold), or a
        status ("500", "429", "401") answered without applying. Scripts win over `faults`.
        """
        self.injector.script(conversation_id, steps)

    def set_rate_limit(self, rate_per_minute: float | None, burst: int | None = None) -> None:
        """Token bucket per API key with fresh (full) buckets; None turns limiting off."""
        self.limiter = None
        if rate_per_minute is not None:
            self.limiter = KeyedRateLimiter(rate_per_minute, burst, self.clock)

    def make_app(self) -> web.Application:
        api = V2Api(self)
        app = web.Application(middlewares=[api.middleware()])
        app.add_routes(api.routes())
        app.add_routes(AdminApi(self).routes())
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0: any free port); return `base_url`."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        # No access log: it would cost more than the request itself under a benchmark.
        runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            sock = _listening_socket(host, port)
            await web.SockSite(runner, sock, backlog=1024,
                               ssl_context=self._ssl_context).start()
        except BaseException:
            await runner.cleanup()
            raise
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        scheme = "http" if self._ssl_context is None else "https"
        self._root_url = f"{scheme}://{shown}:{bound_port}"
        self._runner = runner
        return self.base_url

    async def stop(self) -> None:
        """Stop listening; requests in flight get up to 1 s to finish. State stays readable."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:PORT`, where the admin routes live (`/_sim/...`)."""
        if self._root_url is None:
            raise RuntimeError("simulator not started")
        return self._root_url

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v2`, what a client uses as Partoo's base URL."""
        return self.root_url + "/v2"

    async def __aenter__(self) -> Simulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _listening_socket(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # quick restarts on a port
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock
