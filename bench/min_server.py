"""The least server the worker can run against: every PATCH is a success, nothing else.

No state, no rate limit, no log, no faults: what a request costs the *client* shows when
the server costs as little as aiohttp allows. `bench/overhead.py` runs the bare loop and
the worker against it (and against the simulator).

    python bench/min_server.py --port 0
prints "Partoo simulator: http://127.0.0.1:PORT/v2" (the line `SimProcess` waits for),
then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal

from aiohttp import web

_SUCCESS = b'{"status": "success"}'


async def patch(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=_SUCCESS, content_type="application/json")


async def get(request: web.Request) -> web.Response:
    body = b'{"id": %s, "status": "open", "assigned_user_id": null}' % (
        request.match_info["id"].encode())
    return web.Response(body=body, content_type="application/json")


async def serve(port: int) -> None:
    app = web.Application()
    app.router.add_patch("/v2/conversations/{id}", patch)
    app.router.add_get("/v2/conversations/{id}", get)
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
