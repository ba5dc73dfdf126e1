"""The least server the worker can run against: every PATCH is a success, nothing else.

No state, no rate limit, no log, no faults: what a request costs the *client* shows when
the server costs as little as aiohttp allows. `bench/overhead.py` runs the bare loop and
the worker against it (and against the simulator). Like `sim_server.py`, it notes each
request's arrival (CLOCK_MONOTONIC, in a flat array) for GET /_bench/arrivals[?since=K]:
the start-up and resume benchmarks read when a process's first request arrived.

    python bench/min_server.py --port 0
prints "Partoo simulator: http://127.0.0.1:PORT/v2" (the line `SimProcess` waits for),
then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import time
from array import array

from aiohttp import web

_SUCCESS = b'{"status": "success"}'
_ARRIVALS = array("d")


async def patch(request: web.Request) -> web.Response:
    _ARRIVALS.append(time.monotonic())
    await request.read()
    return web.Response(body=_SUCCESS, content_type="application/json")


async def get(request: web.Request) -> web.Response:
    body = b'{"id": %s, "status": "open", "assigned_user_id": null}' % (
        request.match_info["id"].encode())
    _ARRIVALS.append(time.monotonic())
    return web.Response(body=body, content_type="application/json")


async def arrivals(request: web.Request) -> web.Response:
    since = int(request.query.get("since", 0))
    return web.json_response({"count": len(_ARRIVALS), "at": _ARRIVALS[since:].tolist()})


async def serve(port: int) -> None:
    app = web.Application()
    app.router.add_patch("/v2/conversations/{id}", patch)
    app.router.add_get("/v2/conversations/{id}", get)
    app.router.add_get("/_bench/arrivals", arrivals)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
    gc.collect()
    gc.freeze()
    print(f"Partoo simulator: http://127.0.0.1:{bound[1]}/v2", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--conversations", type=int, default=0, help="ignored")
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
