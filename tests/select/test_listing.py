"""`Lister` with a fake API: pages once each, 429 pauses, retries, refusals.

Nothing really sleeps: looptime fakes the event loop's clock, which the limiter and the
retry policy's sleeps run on.
"""

from __future__ import annotations

import asyncio

import pytest

from worker.core.errors import RateLimited, Rejected, ServerError, Unauthorized, Unexpected
from worker.select.pager import Lister
from worker.sending.control import RunControl
from worker.sending.ratelimit import RateLimiter
from worker.sending.requester import Requester
from worker.sending.retrypolicy import RetryPolicy


class FakeApi:
    """Pages of `per_page` ids from 1..n, cursor "after:<id>"; `script` answers first."""

    def __init__(self, n: int, script: dict[int, Exception] | None = None) -> None:
        self.n = n
        self.script = script or {}  # call number (1-based) -> the error it raises
        self.calls: list[dict[str, str]] = []

    async def __call__(self, path: str, params: dict[str, str]) -> dict:
        assert path == "/conversations"
        self.calls.append(dict(params))
        error = self.script.get(len(self.calls))
        if error is not None:
            raise error
        after = int(params.get("cursor", "after:0").split(":")[1])
        per_page = int(params["per_page"])
        ids = list(range(after + 1, min(after + per_page, self.n) + 1))
        more = bool(ids) and ids[-1] < self.n
        return {"conversations": [{"id": i} for i in ids], "count": self.n, "extra": "x",
                "next_cursor": f"after:{ids[-1]}" if more else None}


pytestmark = pytest.mark.looptime


def make(api, **kwargs):
    limiter = RateLimiter(60_000)
    policy = RetryPolicy(max_attempts=3, max_retry_after_s=60, rate_limit_budget_s=100,
                         backoff_base_s=0.01, backoff_max_s=0.1)
    return Lister(api, Requester(limiter, policy, RunControl()), **kwargs), limiter


def now() -> float:
    return asyncio.get_running_loop().time()


async def collect(lister) -> list[int]:
    return [c["id"] async for page in lister.pages() for c in page]


async def test_every_page_once_in_order_with_the_filter_sent():
    api = FakeApi(25)
    lister, _ = make(api, per_page=10, businesses=("4101", "4103"))
    assert await collect(lister) == list(range(1, 26))
    assert [c.get("cursor") for c in api.calls] == [None, "after:10", "after:20"]
    assert all(c["business__in"] == "4101,4103" and c["per_page"] == "10" for c in api.calls)
    assert (lister.stats.pages, lister.stats.requests, lister.stats.count) == (3, 3, 25)


async def test_a_429_mid_listing_pauses_everyone_then_asks_for_the_same_page_again():
    api = FakeApi(30, {2: RateLimited("429", retry_after_s=7.0)})
    lister, limiter = make(api, per_page=10)
    started = now()
    assert await collect(lister) == list(range(1, 31))  # nothing lost, nothing twice
    assert [c.get("cursor") for c in api.calls] == [None, "after:10", "after:10", "after:20"]
    assert limiter.paused_until >= started + 7.0 and now() - started >= 7.0
    assert (lister.stats.throttled, lister.stats.retries, lister.stats.requests) == (1, 0, 4)


async def test_429s_do_not_use_up_attempts():
    errors = {call: RateLimited("429", retry_after_s=1.0) for call in range(1, 6)}
    api = FakeApi(5, errors)
    lister, _ = make(api)
    assert await collect(lister) == [1, 2, 3, 4, 5]
    assert lister.stats.throttled == 5 and len(api.calls) == 6


async def test_transient_errors_are_retried_then_given_up():
    api = FakeApi(5, {1: ServerError("502 Bad Gateway", http_status=502)})
    lister, _ = make(api)
    assert await collect(lister) == [1, 2, 3, 4, 5] and lister.stats.retries == 1
    down = FakeApi(5, {c: ServerError("503", http_status=503) for c in (2, 3, 4)})
    lister, _ = make(down, per_page=2)
    with pytest.raises(ServerError):
        await collect(lister)
    assert len(down.calls) == 4  # page 1, then page 2 three times (max_attempts)


@pytest.mark.parametrize("exc", [Unauthorized("401 User not authenticated", http_status=401),
                                 Rejected("400 cursor: Invalid cursor.", http_status=400)])
async def test_refusals_stop_at_once(exc):
    api = FakeApi(50, {3: exc})
    lister, _ = make(api, per_page=10)
    with pytest.raises(type(exc)):
        await collect(lister)
    assert len(api.calls) == 3


@pytest.mark.parametrize(("answer", "message"), [
    ({"items": []}, "no 'conversations' list"),
    ({"conversations": []}, "no 'next_cursor'"),
    ({"conversations": [], "next_cursor": {"a": 1}}, "not text"),
])
async def test_answers_that_are_not_the_documented_pages_stop_the_listing(answer, message):
    async def get(path, params):
        return answer

    lister, _ = make(get)
    with pytest.raises(Unexpected, match=message):
        await collect(lister)


async def test_a_cursor_that_never_moves_is_refused():
    async def get(path, params):
        return {"conversations": [{"id": 1}], "next_cursor": "same"}

    lister, _ = make(get)
    with pytest.raises(Unexpected, match="never end"):
        await collect(lister)


def test_per_page_is_bounded():
    for bad in (0, 101):
        with pytest.raises(ValueError):
            make(FakeApi(1), per_page=bad)


class LoopingApi:
    """A listing that goes round: cursors A -> B -> A, or the same page under new cursors.
    It gives up after 50 pages, so a pager that never notices fails instead of hanging."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.calls = 0

    async def __call__(self, path: str, params: dict[str, str]) -> dict:
        self.calls += 1
        if self.calls > 50:
            raise AssertionError("the pager kept listing a listing that goes round")
        cursor = params.get("cursor")
        if self.mode == "cursor":
            following = {None: "A", "A": "B"}.get(cursor, "A")
            ids = {None: [1, 2], "A": [3, 4], "B": [5, 6]}[cursor]
        else:
            following, ids = f"page-{self.calls}", [1, 2]
        return {"conversations": [{"id": i} for i in ids], "next_cursor": following}


@pytest.mark.parametrize("mode, said", [
    ("cursor", "page 3 gave back a cursor it already gave on page 1"),
    ("same_page", "pages 2 to 6 brought no conversation that was not listed before"),
])
async def test_a_listing_that_goes_round_stops_with_a_clear_message(mode, said):
    api = LoopingApi(mode)
    lister, _ = make(api)
    with pytest.raises(Unexpected, match=said):
        await collect(lister)
    assert api.calls <= 6


async def test_empty_pages_in_a_row_that_end_do_not_stop_a_listing():
    pages = [[], [], [], [{"id": 1}], []]

    async def get(path, params):
        n = int(params.get("cursor", "0"))
        return {"conversations": pages[n],
                "next_cursor": str(n + 1) if n + 1 < len(pages) else None}

    lister, _ = make(get)
    assert await collect(lister) == [1]
