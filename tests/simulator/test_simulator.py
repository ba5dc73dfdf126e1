"""The Partoo simulator, over real loopback HTTP: rules, faults, rate limit, admin routes.

Assertions look at the server-side truth (`sim.state`, its request log), not only at what
the client was told.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest

import worker.simulator as simulator
from worker.simulator import (
    ALICE,
    BOT_USER,
    BUSINESS_A,
    BUSINESS_B,
    BUSINESS_C,
    DEMO_API_KEY,
    INACTIVE_USER,
    LONG_ID_USER,
    RESTRICTED_USER,
    Faults,
    Simulator,
    SimulatorThread,
    seeded_state,
)
from worker.simulator.faults import FaultInjector

OPEN_ID = 1  # BUSINESS_A, not expired
EXPIRED_ID = 10  # every 10th is expired
B_ID = 2  # BUSINESS_B


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim():
    state = seeded_state(100)
    state.conversations[OPEN_ID].is_solved = False  # the seed draws it; tests need it known
    async with Simulator(state) as sim:
        yield sim


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(headers={"x-APIKey": DEMO_API_KEY}) as session:
        yield session


async def patch(
    http: aiohttp.ClientSession, sim: Simulator, cid: int | str, body: Any, **kwargs: Any
) -> tuple[int, Any]:
    url = f"{sim.base_url}/conversations/{cid}"
    async with http.patch(url, json=body, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None)


async def get(http: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any]:
    async with http.get(url, params=params) as resp:
        return resp.status, await resp.json(content_type=None)


def last_record(sim: Simulator) -> simulator.RequestRecord:
    return sim.state.log.records[-1]


def test_public_surface_is_pinned() -> None:
    assert sorted(simulator.__all__) == sorted([
        "ALICE", "BOB", "BOT_USER", "BUSINESSES", "BUSINESS_A", "BUSINESS_B", "BUSINESS_C",
        "CAROL", "DEMO_API_KEY", "INACTIVE_USER", "LONG_ID_USER", "RESTRICTED_USER",
        "ApiError", "Conversation", "Faults", "KeyedRateLimiter", "RequestLog",
        "RequestRecord", "SimState", "Simulator", "SimulatorThread", "TokenBucket", "User",
        "seeded_state", "serve_forever",
    ])


def test_seeded_state_is_deterministic_and_shaped_as_promised() -> None:
    a, b = seeded_state(50, seed=3), seeded_state(50, seed=3)
    assert a.conversations == b.conversations
    assert sorted(a.conversations) == list(range(1, 51))
    assert [c.id for c in a.conversations.values() if c.is_expired] == [10, 20, 30, 40, 50]
    assert a.conversations[1].business_id == BUSINESS_A
    assert a.conversations[2].business_id == BUSINESS_B
    assert a.conversations[3].business_id == BUSINESS_C
    assert all(len(uid) == 24 for uid in a.users if uid != LONG_ID_USER)
    assert a.users[RESTRICTED_USER].businesses == frozenset({BUSINESS_A})


async def test_missing_or_wrong_key_is_401_and_changes_nothing(sim: Simulator) -> None:
    url = f"{sim.base_url}/conversations/{OPEN_ID}"
    for headers in ({}, {"x-APIKey": "not-a-key"}):
        async with aiohttp.ClientSession(headers=headers) as anon:
            async with anon.patch(url, json={"status": "closed"}) as resp:
                assert resp.status == 401
                assert await resp.json() == {
                    "errors": {"authentication": "User not authenticated"}}
    assert not sim.state.conversations[OPEN_ID].is_solved
    assert [r.status for r in sim.state.log.records] == [401, 401]


async def test_patch_without_json_content_type_is_415(sim: Simulator, http) -> None:
    url = f"{sim.base_url}/conversations/{OPEN_ID}"
    for headers in ({"Content-Type": "text/plain"}, {}):
        async with http.patch(url, data=b'{"status": "closed"}', headers=headers) as resp:
            assert resp.status == 415
            assert "errors" in await resp.json()
    assert not sim.state.conversations[OPEN_ID].is_solved


@pytest.mark.parametrize("body", [
    {"status": "closed", "assigned_user_id": ALICE},
    {},
    {"status": "solved"},
    {"status": None},
    {"statut": "closed"},
    {"assigned_user_id": 5},
    ["status", "closed"],
])
async def test_bad_bodies_are_400(sim: Simulator, http, body: Any) -> None:
    before = sim.state.get_conversation(OPEN_ID)
    status, answer = await patch(http, sim, OPEN_ID, body)
    assert status == 400
    assert isinstance(answer["error"]["json"], dict)
    assert sim.state.get_conversation(OPEN_ID) == before
    assert last_record(sim).applied is False


async def test_body_that_is_not_json_is_400(sim: Simulator, http) -> None:
    url = f"{sim.base_url}/conversations/{OPEN_ID}"
    headers = {"Content-Type": "application/json"}
    async with http.patch(url, data=b"{status: closed", headers=headers) as resp:
        assert resp.status == 400


async def test_close_sets_is_solved_only_and_is_idempotent(sim: Simulator, http) -> None:
    for _ in range(2):
        assert await patch(http, sim, OPEN_ID, {"status": "closed"}) == (
            200, {"status": "success"})
    conv = sim.state.conversations[OPEN_ID]
    assert conv.is_solved and not conv.is_expired
    assert [(r.status, r.applied) for r in sim.state.log.for_conversation(OPEN_ID)] == [
        (200, True), (200, True)]
    assert (await patch(http, sim, OPEN_ID, {"status": "open"}))[0] == 200
    assert not conv.is_solved


async def test_reopening_an_expired_conversation_is_400(sim: Simulator, http) -> None:
    conv = sim.state.conversations[EXPIRED_ID]
    conv.is_solved = True
    status, answer = await patch(http, sim, EXPIRED_ID, {"status": "open"})
    assert status == 400
    assert "expired" in str(answer["error"]["json"])
    assert conv.is_solved and conv.is_expired
    assert (await patch(http, sim, EXPIRED_ID, {"status": "closed"}))[0] == 200


@pytest.mark.parametrize(("user", "cid", "status"), [
    (BOT_USER, OPEN_ID, 400),
    (INACTIVE_USER, OPEN_ID, 400),
    ("000000000000000000000000", OPEN_ID, 400),
    (RESTRICTED_USER, B_ID, 403),
    (RESTRICTED_USER, OPEN_ID, 200),
    (LONG_ID_USER, OPEN_ID, 200),
])
async def test_assignment_rules(sim: Simulator, http, user: str, cid: int, status: int) -> None:
    before = sim.state.conversations[cid].assigned_user_id
    got, answer = await patch(http, sim, cid, {"assigned_user_id": user})
    assert got == status
    after = sim.state.conversations[cid].assigned_user_id
    assert after == (user if status == 200 else before)
    if status == 403:
        assert answer == {"errors": {"authorization": "Operation not allowed"}}


async def test_unassigned_clears_the_assignee(sim: Simulator, http) -> None:
    assert (await patch(http, sim, OPEN_ID, {"assigned_user_id": ALICE}))[0] == 200
    assert (await patch(http, sim, OPEN_ID, {"assigned_user_id": "unassigned"}))[0] == 200
    assert sim.state.conversations[OPEN_ID].assigned_user_id is None


@pytest.mark.parametrize("cid", [99999, "abc", "0", "-1"])
async def test_unknown_conversation_is_404(sim: Simulator, http, cid: int | str) -> None:
    assert await patch(http, sim, cid, {"status": "closed"}) == (
        404, {"error": {"json": "Resource not found"}})


async def test_rate_limit_429_after_burst_with_retry_after(http) -> None:
    clock = FakeClock()
    async with Simulator(seeded_state(20), rate_per_minute=6, burst=3, clock=clock) as sim:
        for cid in (1, 2, 3):
            assert (await patch(http, sim, cid, {"status": "closed"}))[0] == 200
        async with aiohttp.ClientSession() as anon:  # no key: refused before the bucket
            async with anon.patch(f"{sim.base_url}/conversations/4", json={}) as resp:
                assert resp.status == 401
        url = f"{sim.base_url}/conversations/4"
        async with http.patch(url, json={"status": "closed"}) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "10"  # one token per 10 s
            await resp.json()
        assert not sim.state.conversations[4].is_solved
        clock.now += 2.5
        async with http.patch(url, json={"status": "closed"}) as resp:
            assert (resp.status, resp.headers["Retry-After"]) == (429, "8")  # ceil(7.5)
        clock.now += 7.5
        assert (await patch(http, sim, 4, {"status": "closed"}))[0] == 200
        stats = sim.state.log.stats()
        assert (stats["rate_limited"], stats["applied"]) == (2, 4)


@pytest.mark.parametrize(("override", "expected"), [("soon", "soon"), ("", None)])
async def test_retry_after_override(http, override: str, expected: str | None) -> None:
    faults = Faults(retry_after_header=override)
    async with Simulator(rate_per_minute=1, burst=1, faults=faults, clock=FakeClock()) as sim:
        await patch(http, sim, 1, {"status": "closed"})
        async with http.patch(f"{sim.base_url}/conversations/2", json={"status": "closed"}) as r:
            assert (r.status, r.headers.get("Retry-After")) == (429, expected)


async def test_error_after_applies_then_answers_500(sim: Simulator, http) -> None:
    sim.faults = Faults(error_after=1.0)
    status, _ = await patch(http, sim, OPEN_ID, {"status": "closed"})
    assert status == 500
    assert sim.state.conversations[OPEN_ID].is_solved
    record = last_record(sim)
    assert (record.status, record.applied, record.fault) == (500, True, "error_after")


async def test_error_before_and_html_do_not_apply(sim: Simulator, http) -> None:
    sim.faults = Faults(error_before=1.0)
    status, _ = await patch(http, sim, OPEN_ID, {"status": "closed"})
    assert status in (500, 502, 503)
    sim.faults = Faults(html_error=1.0)
    async with http.patch(f"{sim.base_url}/conversations/{OPEN_ID}", json={"status": "closed"}) \
            as resp:
        assert (resp.status, resp.content_type) == (502, "text/html")
    assert not sim.state.conversations[OPEN_ID].is_solved
    assert sim.state.log.applied == 0


@pytest.mark.parametrize(("fault", "applied"), [("reset_before", False), ("reset_after", True)])
async def test_reset_drops_the_connection(sim: Simulator, http, fault: str, applied: bool) -> None:
    sim.faults = Faults(**{fault: 1.0})
    with pytest.raises(aiohttp.ClientConnectionError):
        await patch(http, sim, OPEN_ID, {"status": "closed"})
    assert sim.state.conversations[OPEN_ID].is_solved is applied
    record = last_record(sim)
    assert (record.status, record.applied, record.fault) == (None, applied, fault)
    sim.faults = Faults()  # the session recovers on a fresh connection
    assert (await patch(http, sim, OPEN_ID, {"status": "closed"}))[0] == 200


async def test_force_status_hits_patch_only(sim: Simulator, http) -> None:
    sim.faults = Faults(force_status=500)
    assert (await patch(http, sim, OPEN_ID, {"status": "closed"}))[0] == 500
    assert (await get(http, f"{sim.base_url}/conversations/{OPEN_ID}"))[0] == 200
    assert not sim.state.conversations[OPEN_ID].is_solved


async def test_script_fails_twice_then_succeeds(sim: Simulator, http) -> None:
    sim.script(OPEN_ID, ["500", "reset", "ok"])
    sim.faults = Faults(force_status=503)  # a script wins over the global faults
    assert (await patch(http, sim, OPEN_ID, {"status": "closed"}))[0] == 500
    with pytest.raises(aiohttp.ClientConnectionError):
        await patch(http, sim, OPEN_ID, {"status": "closed"})
    assert (await patch(http, sim, OPEN_ID, {"status": "closed"}))[0] == 200
    assert (await patch(http, sim, OPEN_ID, {"status": "closed"}))[0] == 503  # script used up
    statuses = [r.status for r in sim.state.log.for_conversation(OPEN_ID)]
    assert statuses == [500, None, 200, 503]


async def test_slow_answers_after_applying(sim: Simulator, http) -> None:
    sim.script(OPEN_ID, ["slow:5"])
    timeout = aiohttp.ClientTimeout(total=0.1)
    with pytest.raises(asyncio.TimeoutError):
        await patch(http, sim, OPEN_ID, {"status": "closed"}, timeout=timeout)
    assert sim.state.conversations[OPEN_ID].is_solved  # applied, though the client gave up


def test_fault_draws_are_reproducible_and_validated() -> None:
    faults = Faults(error_before=0.2, reset_after=0.2, slow=0.3, slow_s=1.0, seed=7)
    injectors = [FaultInjector(faults), FaultInjector(faults)]
    runs = [[injector.decide(1) for _ in range(200)] for injector in injectors]
    assert runs[0] == runs[1]
    labels = {d.label for d in runs[0]}
    assert {"error_before", "reset_after", "slow", None} <= labels
    with pytest.raises(ValueError):
        Faults(error_before=0.6, error_after=0.6)
    with pytest.raises(ValueError):
        Faults.from_dict({"typo": 1})


async def test_list_pages_each_match_exactly_once(sim: Simulator, http) -> None:
    url = f"{sim.base_url}/conversations"
    wanted = {BUSINESS_A, BUSINESS_C}
    expected = [c.id for c in sim.state.conversations.values() if c.business_id in wanted]
    seen: list[int] = []
    params = {"per_page": "7", "business__in": f"{BUSINESS_A},{BUSINESS_C}"}
    while True:
        status, answer = await get(http, url, **params)
        assert status == 200 and answer["count"] == len(expected)
        seen += [c["id"] for c in answer["conversations"]]
        assert all(c["business"]["id"] in wanted for c in answer["conversations"])
        if answer["next_cursor"] is None:
            break
        params["cursor"] = answer["next_cursor"]
    assert seen == expected
    for bad in ({"per_page": "0"}, {"per_page": "101"}, {"cursor": "nope"},
                {"business__in": ""}):
        assert (await get(http, url, **bad))[0] == 400


async def test_conversation_json_shape(sim: Simulator, http) -> None:
    status, conv = await get(http, f"{sim.base_url}/conversations/{EXPIRED_ID}")
    assert status == 200
    assert conv["id"] == EXPIRED_ID and conv["status"] == "Closed" and conv["is_expired"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00", conv["created_at"])
    assert conv["business"]["id"] == BUSINESS_A
    assert (await get(http, f"{sim.base_url}/conversations/99999"))[0] == 404


async def test_admin_routes(sim: Simulator, http) -> None:
    root = sim.root_url
    async with aiohttp.ClientSession() as anon:  # no key needed
        await patch(http, sim, OPEN_ID, {"status": "closed"})
        status, state = await get(anon, f"{root}/_sim/state")
        assert status == 200 and len(state["conversations"]) == 100
        assert state["conversations"][0]["is_solved"] is True
        status, log = await get(anon, f"{root}/_sim/log", since="0")
        assert [(r["seq"], r["status"], r["applied"]) for r in log] == [(1, 200, True)]
        assert (await get(anon, f"{root}/_sim/log", since="1"))[1] == []
        async with anon.post(f"{root}/_sim/faults", json={"force_status": 401}) as resp:
            assert resp.status == 200 and (await resp.json())["force_status"] == 401
        assert sim.faults.force_status == 401
        async with anon.post(f"{root}/_sim/faults", json={"error_before": 2}) as resp:
            assert resp.status == 400
        async with anon.post(f"{root}/_sim/script",
                             json={"conversation_id": 5, "steps": ["502", "ok"]}) as resp:
            assert resp.status == 200
        async with anon.post(f"{root}/_sim/rate_limit", json={"rate_per_minute": 300}) as resp:
            assert (await resp.json()) == {"rate_per_minute": 300, "burst": 300}
        assert (await patch(http, sim, 5, {"status": "closed"}))[0] == 502
        status, stats = await get(anon, f"{root}/_sim/stats")
        assert stats["requests"] == 2 and stats["by_status"] == {"200": 1, "502": 1}


async def test_record_false_keeps_counts_only(http) -> None:
    async with Simulator(seeded_state(10, record=False)) as sim:
        await patch(http, sim, 1, {"status": "closed"})
        assert sim.state.log.records == []
        assert sim.state.log.stats()["applied"] == 1


async def test_simulator_thread_serves_and_flips_faults(http) -> None:
    thread = SimulatorThread(Simulator(seeded_state(10)))
    base_url = await asyncio.to_thread(thread.start)
    try:
        async with http.patch(f"{base_url}/conversations/1", json={"status": "closed"}) as r:
            assert r.status == 200
        await asyncio.to_thread(thread.set_faults, Faults(force_status=503))
        async with http.patch(f"{base_url}/conversations/2", json={"status": "closed"}) as r:
            assert r.status == 503
    finally:
        await asyncio.to_thread(thread.stop)
    assert thread.state.conversations[1].is_solved
    assert not thread.state.conversations[2].is_solved
