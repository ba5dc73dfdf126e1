"""The limiter and the adaptive rate, on a fake clock: looptime makes asyncio's sleeps and
timers instant, and `Aimd` gets an injected clock and a stand-in limiter where that reads
better. Nothing here sleeps for real."""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass

import pytest

from worker.sending.aimd import Aimd
from worker.sending.ratelimit import HEADROOM, RateLimiter

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
async def test_burst_1_spaces_requests_evenly_from_the_first_one():
    times = await grant_times(RateLimiter(600), 20)  # 600/min: one every 0.1 s (+0.1%)
    assert times[0] == 0.0
    assert gaps(times) == [T600] * 19


@pytest.mark.looptime
async def test_no_minute_holds_more_than_the_rate_even_counted_edge_to_edge():
    """A server counting a strict sliding minute (at most 300 in any 60 s, both ends
    included) never sees a 301st request from a worker paced at 300/min."""
    times = sorted(await grant_times(RateLimiter(300), 700))
    most = max(sum(1 for t in times[i:i + 302] if t <= start + 60.0)
               for i, start in enumerate(times))
    assert most == 300
    assert times[-1] == pytest.approx(699 * 0.2 * (1 + HEADROOM))  # and no slower


@pytest.mark.looptime
async def test_after_idling_at_most_burst_requests_go_at_once():
    limiter = RateLimiter(600, burst=3)
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
    limiter = RateLimiter(600, burst=5)
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
    limiter = RateLimiter(60)  # one a second
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
    limiter = RateLimiter(60)
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
    limiter = RateLimiter(600)
    limiter.set_rate(1000.0)
    assert limiter.rate_per_s == 10.0  # never above what the user configured
    await limiter.acquire()
    limiter.set_rate(2.0)  # one every 0.5 s from the next permit on
    times = await grant_times(limiter, 3)
    assert gaps([0.0, *times]) == [T600, 0.5005, 0.5005]


# --- Aimd -------------------------------------------------------------------------------

@dataclass
class FakeLimiter:
    """What `Aimd` reads and steers, without the queue."""

    max_rate_per_s: float = 100.0
    rate_per_s: float = 100.0
    waiting: int = 1
    paused_until: float = float("-inf")

    def set_rate(self, rate_per_s: float) -> None:
        self.rate_per_s = max(1e-6, min(rate_per_s, self.max_rate_per_s))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_aimd(**options) -> tuple[Aimd, FakeLimiter, Clock]:
    limiter, clock = FakeLimiter(), Clock()
    options.setdefault("decrease", 0.9)
    options.setdefault("recovery_s", 60.0)
    return Aimd(limiter, clock=clock, **options), limiter, clock  # type: ignore[arg-type]


def throttled(aimd: Aimd, limiter: FakeLimiter, clock: Clock, *, sent_at: float,
              pause_s: float = 1.0) -> bool:
    """What the engine does on a 429: pause the limiter, then tell the policy."""
    limiter.paused_until = max(limiter.paused_until, clock.now + pause_s)
    return aimd.on_throttled(sent_at=sent_at)


def test_a_volley_of_429s_is_one_signal_and_cuts_once():
    aimd, limiter, clock = make_aimd()
    sent = clock.now - 0.05  # twenty requests in flight, all sent at the full rate
    cuts = [throttled(aimd, limiter, clock, sent_at=sent) for _ in range(20)]
    assert cuts.count(True) == 1
    assert limiter.rate_per_s == pytest.approx(90.0)


def test_429s_for_requests_sent_before_the_cut_took_effect_are_old_news():
    aimd, limiter, clock = make_aimd()
    throttled(aimd, limiter, clock, sent_at=clock.now - 0.01, pause_s=2.0)  # cut; paused
    clock.now += 2.5  # the pause is over; a slow reply to a request sent before it
    assert not throttled(aimd, limiter, clock, sent_at=clock.now - 2.6)
    assert limiter.rate_per_s == pytest.approx(90.0)


def test_a_429_for_a_request_sent_at_the_lowered_rate_cuts_again():
    aimd, limiter, clock = make_aimd()
    throttled(aimd, limiter, clock, sent_at=clock.now, pause_s=1.0)
    clock.now += 1.3  # 0.3 s after the pause: still too fast for what the others leave
    assert throttled(aimd, limiter, clock, sent_at=clock.now - 0.01)
    assert limiter.rate_per_s == pytest.approx(81.0)


def test_cuts_are_at_least_a_cooldown_apart_when_send_times_are_unknown():
    aimd, _, clock = make_aimd(cooldown_s=1.0)
    assert aimd.on_throttled()  # called outside a task that took a permit: no send time
    clock.now += 0.5
    assert not aimd.on_throttled()
    clock.now += 0.6
    assert aimd.on_throttled()
    assert aimd.cuts == 2


def test_the_rate_never_falls_below_the_floor():
    aimd, limiter, clock = make_aimd(floor=0.2, cooldown_s=0.0)
    for _ in range(50):
        clock.now += 10
        throttled(aimd, limiter, clock, sent_at=clock.now, pause_s=0.0)
    assert limiter.rate_per_s == pytest.approx(20.0)


def test_the_rate_climbs_linearly_in_time_while_callers_queue_at_the_meter():
    aimd, limiter, clock = make_aimd()  # back from one cut to the full rate in ~60 s
    throttled(aimd, limiter, clock, sent_at=clock.now, pause_s=1.0)
    assert limiter.rate_per_s == pytest.approx(90.0)
    for _ in range(30):  # one success a second, 30 s of them, after the pause
        clock.now += 1.0
        aimd.on_success()
    # 30 s after the cut, of which 1 s paused: 29 s x (10 / 60) per s.
    assert limiter.rate_per_s == pytest.approx(90.0 + 29 * 10 / 60)


def test_no_growth_when_the_meter_is_not_what_holds_requests_back():
    aimd, limiter, clock = make_aimd()
    throttled(aimd, limiter, clock, sent_at=clock.now)
    limiter.waiting = 0  # concurrency or latency is the limit: the rate is not tested
    for _ in range(100):
        clock.now += 1.0
        aimd.on_success()
    assert limiter.rate_per_s == pytest.approx(90.0)
    limiter.waiting = 3  # saturated again: growth counts from now, not from the cut
    clock.now += 6.0
    aimd.on_success()
    assert limiter.rate_per_s == pytest.approx(90.0 + 6 * 10 / 60)


def test_time_spent_paused_is_not_counted_as_growth():
    aimd, limiter, clock = make_aimd()
    throttled(aimd, limiter, clock, sent_at=clock.now)
    clock.now += 10.0
    aimd.on_success()
    climbed = limiter.rate_per_s
    limiter.paused_until = clock.now + 20.0  # an old-news 429: a pause, no cut
    clock.now += 21.0
    aimd.on_success()
    assert limiter.rate_per_s == pytest.approx(climbed + 1.0 * 10 / 60)


def test_the_rate_never_climbs_above_the_configured_rate():
    aimd, limiter, clock = make_aimd()
    throttled(aimd, limiter, clock, sent_at=clock.now)
    for _ in range(1000):
        clock.now += 1.0
        aimd.on_success()
    assert limiter.rate_per_s == 100.0


@pytest.mark.looptime
async def test_with_the_real_limiter_429s_in_flight_cut_once_and_the_climb_needs_a_queue():
    limiter = RateLimiter(6000)  # 100/s
    aimd = Aimd(limiter, decrease=0.9, recovery_s=60.0)
    loop = asyncio.get_running_loop()

    async def request(answer: int) -> None:
        await limiter.acquire()
        await asyncio.sleep(0.2)  # in flight
        if answer == 429:
            limiter.pause(1.0)
            aimd.on_throttled()
        else:
            aimd.on_success()

    # Ten requests sent back to back (0.1 s) all meet 429 (from 0.2 s on): one cut.
    await asyncio.gather(*(request(429) for _ in range(10)))
    assert aimd.cuts == 1 and limiter.rate_per_s == pytest.approx(90.0)
    # After the pause, a 429 for a request sent at the new rate is a new signal.
    await asyncio.sleep(max(0.0, limiter.paused_until - loop.time()))
    await request(429)
    assert aimd.cuts == 2 and limiter.rate_per_s == pytest.approx(81.0)
    # One caller at a time never queues at the meter: the rate stays where it is.
    await asyncio.sleep(max(0.0, limiter.paused_until - loop.time()))
    for _ in range(50):
        await request(200)
    assert limiter.rate_per_s == pytest.approx(81.0)
    # Many at a time do queue at the meter: now it climbs, linearly in time.
    start = loop.time()
    await asyncio.gather(*(request(200) for _ in range(400)))
    climbed = limiter.rate_per_s - 81.0
    assert 0 < climbed <= (loop.time() - start) * 10 / 60 + 1e-6
