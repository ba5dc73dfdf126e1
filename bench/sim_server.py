"""The Partoo simulator as the benchmarks run it: a subprocess, plus an arrival log.

`partoo-bulk simulate` with `--no-log` keeps counters only; without it, the simulator
keeps a Python object per request, and at 1,000 requests/s its garbage collector then
stops it for tens of milliseconds at a time. The requests that queue meanwhile reach its
token bucket all at once and get 429s that no client pacing could avoid. So here the
simulator keeps no per-request objects; a middleware notes each /v2 request's arrival
time, status and sender (partoo-bulk or not, from the User-Agent) in flat arrays, which
the garbage collector does not scan, served at GET /_bench/arrivals (`?since=K`: from the
K-th on). The seeded state
is frozen out of the collector's way too (`gc.freeze()`): it lives as long as the server.

`--latency-s S` answers every request S seconds late (after applying it): an API that
is slow, not down. `/_bench/arrivals` also says how many of partoo-bulk's requests the
server held at most at once (`most_in_flight`), latency included, and over how many
connections they came (`connections`: each new connection that carried one counts).

`--tls-cert FILE --tls-key FILE` serves https with that certificate chain and key (the
https start-up of `bench/tls.py`).

    python bench/sim_server.py --port 0 [--rate-per-minute R --burst B] [--conversations N]
                               [--latency-s S] [--tls-cert FILE --tls-key FILE]
prints "Partoo simulator: http(s)://127.0.0.1:PORT/v2", then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import ssl
import time
import weakref
from array import array
from collections.abc import Awaitable, Callable

from aiohttp import web

from worker.simulator import Simulator, seeded_state
from worker.simulator.faults import Faults

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Arrivals:
    def __init__(self) -> None:
        self.at = array("d")
        self.status = array("h")
        self.ours = array("b")  # 1: sent by partoo-bulk (its User-Agent)
        self.in_flight = 0  # partoo-bulk's requests the server holds now
        self.most_in_flight = 0
        # The live connections seen carrying partoo-bulk's requests; a closed one leaves
        # the set, so a new connection always counts, whatever its address.
        self._transports: weakref.WeakSet[object] = weakref.WeakSet()
        self.connections = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        at = time.monotonic()
        ours = request.headers.get("User-Agent", "").startswith("partoo-bulk")
        self.in_flight += ours
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if ours and request.transport is not None \
                and request.transport not in self._transports:
            self._transports.add(request.transport)
            self.connections += 1
        try:
            response = await handler(request)
        finally:
            self.in_flight -= ours
        if request.path.startswith("/v2/"):
            self.at.append(at)
            self.status.append(response.status)
            self.ours.append(ours)
        return response

    async def serve(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", 0))  # only the arrivals from index K on
        return web.json_response({"count": len(self.at), "at": self.at[since:].tolist(),
                                  "status": self.status[since:].tolist(),
                                  "ours": self.ours[since:].tolist(),
                                  "most_in_flight": self.most_in_flight,
                                  "connections": self.connections})


class BenchSimulator(Simulator):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.arrivals = Arrivals()

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.middlewares.append(self.arrivals.middleware)
        app.router.add_get("/_bench/arrivals", self.arrivals.serve)
        return app


async def serve(port: int, rate_per_minute: float | None, burst: int | None,
                conversations: int, latency_s: float = 0.0,
                tls: tuple[str, str] | None = None) -> None:
    faults = Faults(slow=1.0, slow_s=latency_s) if latency_s > 0 else None
    server_tls = None
    if tls is not None:
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(*tls)
    sim = BenchSimulator(seeded_state(conversations, record=False),
                         rate_per_minute=rate_per_minute, burst=burst, faults=faults,
                         ssl_context=server_tls)
    gc.collect()
    gc.freeze()
    await sim.start("127.0.0.1", port)
    print(f"Partoo simulator: {sim.base_url}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate-per-minute", type=float, default=None,
                        help="the key's quota; leave out for no rate limit")
    parser.add_argument("--burst", type=int, default=None)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--latency-s", type=float, default=0.0,
                        help="answer every request this late")
    parser.add_argument("--tls-cert", help="serve https: the certificate chain (PEM)")
    parser.add_argument("--tls-key", help="and its private key (PEM)")
    args = parser.parse_args()
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    asyncio.run(serve(args.port, args.rate_per_minute, args.burst, args.conversations,
                      args.latency_s, tls))


if __name__ == "__main__":
    main()
