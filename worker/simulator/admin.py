"""`/_sim/*`: look at and steer a running simulator from another process. No API key.

For tests that run the worker as a subprocess: read the server-side truth
(`GET /_sim/state`, `/_sim/log?since=SEQ`, `/_sim/stats`) and change the weather mid-run
(`POST /_sim/faults`, `/_sim/script`, `/_sim/rate_limit`), and change a conversation
behind the client's back, as an agent or a customer would (`POST /_sim/conversations/ID`:
the guards' tests; it takes effect at once, also while a run is sending). Bad input answers 400
`{"error": "..."}`; a POST answers with the settings now in force.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
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
            web.post("/_sim/conversations/{id}", self.change_conversation),
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


    async def change_conversation(self, request: web.Request) -> web.Response:
        """Body, every key optional: {"is_solved": true, "assigned_user_id": "ID" or null,
        "last_message_date": "2026-12-02T02:14:00+00:00", "is_expired": false}. No rule of
        the API applies (a hand-made change is whatever the person did). Answers the
        conversation as GET shows it; 404 for an unknown id."""
        try:
            cid = int(request.match_info["id"])
            data = await _object(request)
            conv = self.sim.state.conversations.get(cid)
            if conv is None:
                return web.json_response({"error": f"no conversation {cid}"}, status=404)
            unknown = sorted(data.keys() - _CHANGEABLE)
            if unknown:
                raise ValueError(f"unknown keys {unknown}: use {sorted(_CHANGEABLE)}")
            for flag in ("is_solved", "is_expired"):
                if flag in data:
                    if not isinstance(data[flag], bool):
                        raise ValueError(f"{flag} must be true or false")
                    setattr(conv, flag, data[flag])
            if "assigned_user_id" in data:
                user = data["assigned_user_id"]
                if user is not None and not isinstance(user, str):
                    raise ValueError("assigned_user_id must be a user id or null")
                conv.assigned_user_id = user
            if "last_message_date" in data:
                conv.last_message_date = _moment(data["last_message_date"])
        except ValueError as exc:
            return _error(f"bad change: {exc}")
        return web.json_response(self.sim.state.get_conversation(cid))


_CHANGEABLE = frozenset({"is_solved", "is_expired", "assigned_user_id", "last_message_date"})


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("last_message_date must be an ISO 8601 time or null")
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
