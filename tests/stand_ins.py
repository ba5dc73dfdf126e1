"""Stand-ins for Partoo other than the simulator, shared by the hostile-server and secrets
tests: aioresponses in place of the network (`mocked_api`) and small aiohttp servers on
loopback (`ServerThread`) for what needs real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from unittest import mock

from aiohttp import web
from aioresponses import CallbackResult, aioresponses

from helpers import SECRET

API = "https://api.partoo.test/v2"
CONVERSATION = re.compile(r"^https://api\.partoo\.test/v2/conversations/\d+$")
LISTING = re.compile(r"^https://api\.partoo\.test/v2/conversations(\?.*)?$")
SUCCESS = {"status": "success"}
HTML = "<!DOCTYPE html><html><body><h1>Welcome to the hotel wifi</h1></body></html>"


def api_env(**extra: str) -> dict[str, str]:
    env = {"PARTOO_API_KEY": SECRET, "PARTOO_BASE_URL": API, "PARTOO_RATE_PER_MINUTE": "60000",
           "PARTOO_REQUEST_TIMEOUT_S": "1", "PARTOO_BACKOFF_BASE_S": "0.01",
           "PARTOO_BACKOFF_MAX_S": "0.05", "PARTOO_MAX_ATTEMPTS": "3"}
    env.update(extra)
    return env


def closed_rows(n: int, first: int = 1) -> list[tuple[str, str, str]]:
    return [(str(i), "closed", "") for i in range(first, first + n)]


def no_traceback(result, *, bug_expected: bool = False) -> None:
    for bad in ("Traceback", "never retrieved", *(() if bug_expected else ("internal error",))):
        assert bad not in result.err, result.err


@contextlib.contextmanager
def mocked_api() -> Iterator[aioresponses]:
    """aioresponses in place of the network, and no start-up connection check (there is
    no host to connect to). A GET of the conversation list answers an empty page; a GET
    of one conversation (a read-back) shows it open and unassigned."""
    with aioresponses() as m, mock.patch("worker.run.runner.check_reachable", mock.AsyncMock()):
        m.get(LISTING, payload={"conversations": [], "count": 0, "next_cursor": None},
              repeat=True)
        m.get(CONVERSATION, callback=_open_conversation, repeat=True)
        yield m


def _open_conversation(url, **_kwargs) -> CallbackResult:
    """The conversation asked for (its `id`, as Partoo answers), open and unassigned."""
    return CallbackResult(payload={"id": int(url.path.rsplit("/", 1)[1]), "is_solved": False,
                                   "is_expired": False, "assigned_user_id": None})


def sent_requests(m: aioresponses) -> list[tuple[str, str, dict]]:
    """The PATCH requests that went out."""
    return [(method, str(url), call.kwargs) for (method, url), calls in m.requests.items()
            for call in calls if method == "PATCH"]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ServerThread:
    """An aiohttp app answering every PATCH with `handler`, on its own loop and thread.

    A GET of the list answers an empty page, as the API would (for a start-up check of
    the API, should the runner make one); a GET of one conversation (a read-back) shows
    it open and unassigned: this server never changes anything. Records every request it
    receives (method, path, headers), so a test can prove that something never arrived.
    """

    def __init__(self, handler: Handler, *, gets: bool = False) -> None:
        self.handler = handler
        self.gets = gets  # GETs of one conversation go to `handler` too
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self.root_url = ""

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        await request.read()
        if request.method == "GET" and request.path.rstrip("/").endswith("/conversations"):
            return web.json_response({"conversations": [], "count": 0, "next_cursor": None})
        if request.method == "GET" and not self.gets:
            cid = request.path.rstrip("/").rsplit("/", 1)[1]
            return web.json_response({"id": int(cid) if cid.isdigit() else cid,
                                      "is_solved": False, "is_expired": False,
                                      "assigned_user_id": None})
        return await self.handler(request)

    def patches(self) -> list[str]:
        return [path for method, path, _headers in self.requests if method == "PATCH"]

    def start(self, host: str = "127.0.0.1") -> str:
        ready = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                         shutdown_timeout=0.2)
            await self._runner.setup()
            site = web.TCPSite(self._runner, host, 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.root_url = f"http://{host}:{port}"
            self._stop = asyncio.Event()
            ready.set()
            await self._stop.wait()
            await self._runner.cleanup()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self._thread.start()
        assert ready.wait(10), "server did not start"
        return self.root_url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)


