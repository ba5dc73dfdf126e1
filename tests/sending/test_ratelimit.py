"""The limiter on a fake clock: looptime makes asyncio's sleeps and timers instant.
Nothing here sleeps for real. The adaptive rate on top of it: tests/sending/test_aimd.py."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from worker.sending.ratelimit import HEADROOM, MAX_JITTER_S, RateLimiter

# Permits are spaced 60 / rate_per_minute s, widened by HEADROOM (0.1%).
T600 = round(0.1 * (1 + HEADROOM), 6)  # at 600/min
T60 = round(1.0 * (1 + HEADROOM), 6)  # at 60/min


async def grant_times(limiter: RateLimiter, n: int, *, every_s: float = 0.0) -> list[float]:
    """Start n callers (one every `every_s`) and return when each got its permit."""
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def caller(delay: float) -> None:
        await asyncio.sleep(delay)
        await limiter.acquire()
        times.append(loop.time())

    await asyncio.gather(*(caller(i * every_s) for i in range(n)))
    return times


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(sorted(times))]


def test_rate_and_burst_are_checked():
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(300, burst=0)


@pytest.mark.looptime
async def test_without_jitter_burst_1_spaces_requests_evenly_from_the_first_one():
    times = await grant_times(RateLimiter(600, jitter=0), 20)  # 600/min: one every 0.1 s (+0.1%)
    assert times[0] == 0.0
    assert gaps(times) == [T600] * 19


@pytest.mark.looptime
async def test_no_minute_holds_more_than_the_rate_even_counted_edge_to_edge():
    """A server counting a strict sliding minute (at most 300 in any 60 s, both ends
    included) never sees a 301st request from a worker paced at 300/min."""
    times = sorted(await grant_times(RateLimiter(300), 700))  # jitter included
    most = max(sum(1 for t in times[i:i + 302] if t <= start + 60.0)
               for i, start in enumerate(times))
    assert most == 300
    slot = 699 * 0.2 * (1 + HEADROOM)
    assert slot <= times[-1] <= slot + MAX_JITTER_S + 1e-9  # and no slower


@pytest.mark.looptime
async def test_after_idling_at_most_burst_requests_go_at_once():
    limiter = RateLimiter(600, burst=3, jitter=0)
    first = await grant_times(limiter, 10)
    assert first[:3] == [0.0, 0.0, 0.0]
    assert gaps(first[2:]) == [T600] * 7
    await asyncio.sleep(60)  # a long idle period banks `burst` permits, not 600
    loop = asyncio.get_running_loop()
    start = loop.time()
    again = await grant_times(limiter, 6)
    assert [round(t - start, 6) for t in again] == \
        [0.0, 0.0, 0.0, T600, round(2 * T600, 6), round(3 * T600, 6)]


@pytest.mark.looptime
async def test_queued_permits_come_up_to_half_an_interval_after_their_slot_never_before():
    limiter = RateLimiter(3000)  # T = 20 ms (+0.1%): up to 10 ms late
    times = await grant_times(limiter, 500)
    interval = 0.02 * (1 + HEADROOM)
    late = [t - i * interval for i, t in enumerate(times)]
    assert min(late) >= -1e-9 and max(late) <= interval / 2 + 1e-9
    assert max(late) - min(late) > 0.005  # spread out, not one fixed phase


@pytest.mark.looptime
async def test_a_server_bucket_of_two_at_the_same_rate_never_refuses_a_jittered_stream():
    """Why the jitter is harmless: every permit is late by less than one interval from a
    fixed schedule, so a token bucket of 2 refilled at the rate always has one left."""
    limiter = RateLimiter(3000)
    times = await grant_times(limiter, 2000)
    tokens, at, refused = 2.0, 0.0, 0
    for t in times:
        tokens = min(2.0, tokens + (t - at) * 50.0)
        at = t
        if tokens >= 1:
            tokens -= 1
        else:
            refused += 1
    assert refused == 0


@pytest.mark.looptime
async def test_callers_arriving_slower_than_the_rate_are_not_delayed():
    times = await grant_times(RateLimiter(600), 5, every_s=0.5)
    assert times == [0.0, 0.5, 1.0, 1.5, 2.0]


@pytest.mark.looptime
async def test_no_window_ever_holds_more_than_burst_plus_the_rate():
    rng = random.Random(7)
    limiter = RateLimiter(1200, burst=4)  # T = 0.05 s
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def caller(delay: float) -> None:
        await asyncio.sleep(delay)
        await limiter.acquire()
        times.append(loop.time())

    # Clumps of callers and idle stretches, in random order.
    delays = sorted(rng.choice((0.0, 0.01, 2.0, 2.005, 7.3)) + rng.random() * 3
                    for _ in range(300))
    await asyncio.gather(*(caller(d) for d in delays))
    times.sort()
    for width in (0.05, 0.2, 1.0, 5.0):
        most = max(sum(1 for t in times if s <= t < s + width) for s in times)
        assert most <= 4 + width / 0.05 + 1e-9, width


@pytest.mark.looptime
async def test_waiters_are_served_first_come_first_served():
    limiter = RateLimiter(600)
    order: list[int] = []

    async def caller(i: int) -> None:
        await asyncio.sleep(i * 0.001)  # arrive in index order, all before the 2nd slot
        await limiter.acquire()
        order.append(i)

    await asyncio.gather(*(caller(i) for i in range(8)))
    assert order == list(range(8))


@pytest.mark.looptime
async def test_a_pause_holds_every_caller_then_resumes_paced_without_a_burst(monkeypatch):
    monkeypatch.setattr("worker.sending.ratelimit.random.uniform", lambda a, b: 0.0)  # no jitter
    limiter = RateLimiter(600, burst=5, jitter=0)
    loop = asyncio.get_running_loop()
    await grant_times(limiter, 5)  # the burst is spent
    queued = asyncio.ensure_future(grant_times(limiter, 4))
    await asyncio.sleep(0.05)
    limiter.pause(3.0)  # a 429 at t=0.05: nobody may start before 3.05
    late = asyncio.ensure_future(grant_times(limiter, 4, every_s=0.5))  # come during it
    times = sorted(await queued + await late)
    assert times[0] == pytest.approx(3.05)
    # Eight callers were waiting, and burst=5: still one per T after the pause.
    assert gaps(times) == [T600] * 7
    assert loop.time() == pytest.approx(3.05 + 7 * T600)


@pytest.mark.looptime
async def test_pause_jitter_is_at_most_one_interval():
    limiter = RateLimiter(600)
    loop = asyncio.get_running_loop()
    limiter.pause(2.0)
    assert 2.0 <= limiter.paused_until - loop.time() <= 2.0 + T600


@pytest.mark.looptime
async def test_a_pause_extends_but_never_shortens(monkeypatch):
    monkeypatch.setattr("worker.sending.ratelimit.random.uniform", lambda a, b: 0.0)
    limiter = RateLimiter(600)
    limiter.pause(5.0)
    limiter.pause(1.0)
    assert limiter.paused_until == 5.0
    limiter.pause(8.0)
    assert limiter.paused_until == 8.0
    assert await grant_times(limiter, 2) == [8.0, pytest.approx(8.0 + T600)]


@pytest.mark.looptime
async def test_a_cancelled_waiter_strands_nobody():
    limiter = RateLimiter(60, jitter=0)  # one a second
    loop = asyncio.get_running_loop()
    await limiter.acquire()  # t=0; the next slot is at 1.0
    got: dict[str, float] = {}

    async def caller(name: str) -> None:
        await limiter.acquire()
        got[name] = loop.time()

    tasks = {name: asyncio.create_task(caller(name)) for name in "abcde"}
    await asyncio.sleep(0.5)
    tasks["a"].cancel()  # the head of the queue
    tasks["c"].cancel()  # one in the middle
    await asyncio.sleep(0)
    assert limiter.waiting == 3
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    assert got == pytest.approx({"b": T60, "d": 2 * T60, "e": 3 * T60})
    assert limiter.waiting == 0


@pytest.mark.looptime
async def test_cancelling_every_waiter_leaves_the_limiter_usable():
    limiter = RateLimiter(60, jitter=0)
    await limiter.acquire()
    tasks = [asyncio.create_task(limiter.acquire()) for _ in range(5)]
    await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert limiter.waiting == 0
    loop = asyncio.get_running_loop()
    await limiter.acquire()
    assert loop.time() == pytest.approx(T60)  # its own slot: cancelled waiters took none


@pytest.mark.looptime
async def test_set_rate_applies_to_waiters_and_is_bounded_by_the_configured_rate():
    limiter = RateLimiter(600, jitter=0)
    limiter.set_rate(1000.0)
    assert limiter.rate_per_s == 10.0  # never above what the user configured
    await limiter.acquire()
    limiter.set_rate(2.0)  # one every 0.5 s from the next permit on
    times = await grant_times(limiter, 3)
    assert gaps([0.0, *times]) == [T600, 0.5005, 0.5005]
