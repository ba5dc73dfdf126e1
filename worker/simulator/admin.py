"""`/_sim/*`: look at and steer a running simulator from another process. No API key.

For tests that run the worker as a subprocess: read the server-side truth
(`GET /_sim/state`, `/_sim/log?since=SEQ`, `/_sim/stats`) and change the weather mid-run
(`POST /_sim/faults`, `/_sim/script`, `/_sim/rate_limit`). Bad input answers 400
`{"error": "..."}`; a POST answers with the settings now in force.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aiohttp import web

from .faults import Faults
from .parts import SimulatorParts

__all__ = ["AdminApi"]


class AdminApi:
    def __init__(self, sim: SimulatorParts) -> None:
        self.sim = sim

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_sim/state", self.state),
            web.get("/_sim/log", self.log),
            web.get("/_sim/stats", self.stats),
            web.get("/_sim/faults", self.faults),
            web.post("/_sim/faults", self.set_faults),
            web.post("/_sim/script", self.script),
            web.post("/_sim/rate_limit", self.set_rate_limit),
        ]

    async def state(self, request: web.Request) -> web.Response:
        state = self.sim.state
        users = [
            {"id": u.id, "active": u.active, "human": u.human,
             "businesses": None if u.businesses is None else sorted(u.businesses)}
            for u in state.users.values()
        ]
        return web.json_response(
            {"conversations": state.all_conversations_json(), "users": users})

    async def log(self, request: web.Request) -> web.Response:
        """Records with seq > `since` (default 0), oldest first."""
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return _error("since must be an integer")
        records = self.sim.state.log.records
        return web.json_response([r.to_json() for r in records if r.seq > since])

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.sim.state.log.stats())

    async def faults(self, request: web.Request) -> web.Response:
        return web.json_response(dataclasses.asdict(self.sim.faults))

    async def set_faults(self, request: web.Request) -> web.Response:
        """Replace every fault setting: keys left out fall back to their defaults."""
        try:
            self.sim.faults = Faults.from_dict(await _object(request))
        except ValueError as exc:
            return _error(str(exc))
        return await self.faults(request)

    async def script(self, request: web.Request) -> web.Response:
        """Body: {"conversation_id": 12, "steps": ["500", "reset", "ok"]}."""
        try:
            data = await _object(request)
            cid, steps = data["conversation_id"], data["steps"]
            if not isinstance(cid, int) or not isinstance(steps, list):
                raise ValueError("conversation_id must be an integer and steps a list")
            self.sim.script(cid, steps)
        except (KeyError, ValueError) as exc:
            return _error(f"bad script: {exc}")
        return web.json_response({"conversation_id": cid, "pending": len(steps)})

    async def set_rate_limit(self, request: web.Request) -> web.Response:
        """Body: {"rate_per_minute": 300, "burst": 10}; a null rate turns limiting off."""
        try:
            data = await _object(request)
            self.sim.set_rate_limit(data.get("rate_per_minute"), data.get("burst"))
        except (TypeError, ValueError) as exc:
            return _error(f"bad rate limit: {exc}")
        limiter = self.sim.limiter
        return web.json_response({
            "rate_per_minute": None if limiter is None else limiter.rate_per_minute,
            "burst": None if limiter is None else limiter.burst,
        })


async def _object(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read())
    except ValueError as exc:
        raise ValueError("body must be JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _error(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)
