"""The `/v2` routes: HTTP in, `SimState` calls and injected faults, HTTP out.

Every request goes through the same steps, each of which may end it:
path id (404) -> API key (401) -> rate limit (429) -> fault "before" (5xx, HTML 502,
dropped connection; nothing applied) -> the request itself (415, 400, 403, 404, 200)
-> fault "after" (500 or dropped connection, change kept) -> optional delay -> answer.
Auth comes before the rate limit so that unauthenticated traffic does not spend an
organization's quota. Each request leaves exactly one record in the request log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .answers import (
    NOT_FOUND,
    SERVER_ERROR,
    UNAUTHENTICATED,
    drop_connection,
    fault_answer,
    json_answer,
    too_many_requests,
)
from .faults import Action
from .listing import looping
from .parts import SimulatorParts
from .state import ApiError

__all__ = ["V2Api"]

_BEFORE = frozenset({Action.ANSWER, Action.HTML, Action.RESET})
_INVALID = object()  # a body that is not JSON

Work = Callable[[Any], tuple[int, Any]]  # parsed body -> (status, JSON payload)


class V2Api:
    """Request handlers bound to one `Simulator`, whose settings are read per request."""

    def __init__(self, sim: SimulatorParts) -> None:
        self.sim = sim

    def middleware(self) -> Any:
        """With `Faults.json_404`, a route that does not exist answers a JSON 404 (and is
        logged), as a gateway in front of an API does; else aiohttp's text page."""

        @web.middleware
        async def json_404(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                return await handler(request)
            except web.HTTPNotFound:
                if not self.sim.faults.json_404 or request.path.startswith("/_sim/"):
                    raise
                return self._refuse(request, None, json_answer(404, NOT_FOUND))

        return json_404

    def routes(self) -> list[web.RouteDef]:
        return [
            web.patch("/v2/conversations/{id}", self.patch_conversation),
            web.get("/v2/conversations", self.list_conversations),
            web.get("/v2/conversations/{id}", self.get_conversation),
        ]

    async def patch_conversation(self, request: web.Request) -> web.StreamResponse:
        cid = _path_id(request)
        if cid is None:
            return self._refuse(request, None, json_answer(404, NOT_FOUND))
        json_type = request.content_type == "application/json"

        def work(body: Any) -> tuple[int, Any]:
            if not json_type:
                return 415, {"errors": {"json": "Content-Type must be application/json"}}
            if body is _INVALID:
                return 400, {"error": {"json": {"_schema": ["Invalid JSON body."]}}}
            return self.sim.state.apply_patch(cid, body)

        return await self._serve(request, cid, work, is_get=False)

    async def list_conversations(self, request: web.Request) -> web.StreamResponse:
        query = request.query

        def work(_body: Any) -> tuple[int, Any]:
            try:
                per_page = int(query.get("per_page", "30"))
            except ValueError:
                return 400, {"error": {"json": {"per_page": ["Not a valid integer."]}}}
            business_in = None
            if "business__in" in query:
                business_in = {b.strip() for b in query["business__in"].split(",") if b.strip()}
                if not business_in:  # refuse rather than silently list everything
                    return 400, {"error": {"json": {"business__in": ["Field may not be empty."]}}}
            loop = self.sim.faults.list_loop
            cursor = query.get("cursor")
            try:
                answer = self.sim.state.list_conversations(
                    business_in, per_page, None if loop else cursor)
            except ApiError as exc:
                return exc.status, exc.body
            return 200, looping(answer, cursor, loop) if loop else answer

        return await self._serve(request, None, work, is_get=True)

    async def get_conversation(self, request: web.Request) -> web.StreamResponse:
        cid = _path_id(request)
        if cid is None:
            return self._refuse(request, None, json_answer(404, NOT_FOUND))

        # `Faults.get_answers_id`: another conversation's answer, as a bad cache gives.
        answered = self.sim.faults.get_answers_id or cid

        def work(_body: Any) -> tuple[int, Any]:
            try:
                return 200, self.sim.state.get_conversation(answered)
            except ApiError as exc:
                return exc.status, exc.body

        return await self._serve(request, cid, work, is_get=True)

    async def _serve(
        self, request: web.Request, cid: int | None, work: Work, *, is_get: bool
    ) -> web.StreamResponse:
        refused = self._gate(request)
        if refused is not None:
            return self._refuse(request, cid, refused)
        sim = self.sim
        decision = sim.injector.decide(cid, is_get=is_get)
        body = _decode(await request.read())
        applied = False
        response: web.Response | None
        if decision.action in _BEFORE:
            response = fault_answer(decision, sim.faults.retry_after_header,
                                    sim.faults.problem_json)
        elif decision.action is Action.LOSE:
            response = json_answer(200, {"status": "success"})
        else:
            status, payload = work(body)
            applied = status == 200 and not is_get
            if decision.action is Action.ERROR_AFTER:
                response = json_answer(500, SERVER_ERROR)
            elif decision.action is Action.RESET_AFTER:
                response = None
            else:
                response = json_answer(status, payload)
        self._record(request, cid, body, response, applied, decision.label)
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        return drop_connection(request) if response is None else response

    def _gate(self, request: web.Request) -> web.Response | None:
        """401 for a missing or unknown key, 429 when the key's bucket is empty."""
        key = request.headers.get("x-APIKey")
        if key is None or key not in self.sim.keys:
            return json_answer(401, UNAUTHENTICATED)
        limiter = self.sim.limiter
        if limiter is not None:
            wait_s = limiter.retry_after(key)
            if wait_s is not None:
                return too_many_requests(wait_s, self.sim.faults.retry_after_header)
        return None

    def _refuse(
        self, request: web.Request, cid: int | None, response: web.Response
    ) -> web.Response:
        """Answer without reading the body or drawing a fault (bad path, key or rate)."""
        self._record(request, cid, None, response)
        return response

    def _record(
        self,
        request: web.Request,
        cid: int | None,
        body: Any,
        response: web.Response | None,
        applied: bool = False,
        fault: str | None = None,
    ) -> None:
        """Log the request with its answer (None: the connection was dropped)."""
        status = None if response is None else response.status
        if body is _INVALID:
            body = "<not JSON>"
        self.sim.state.log.add(
            request.method, request.path, cid, body, status, applied, fault, self.sim.clock(),
            request.query_string,
        )


def _path_id(request: web.Request) -> int | None:
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit()):  # refuses signs, spaces, "1e3", "²"
        return None
    return int(text) or None


def _decode(raw: bytes) -> Any:
    """The body for the log and for the rules: None if empty, `_INVALID` if not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return _INVALID
