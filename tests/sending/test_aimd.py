"""The adaptive rate on a fake clock: an injected clock and a stand-in limiter for the
rules, and looptime for a shared quota end to end (the real engine, limiter and row work
against a fake token-bucket server and another integration). Nothing sleeps for real."""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass

import pytest

from helpers import no_reads
from worker.core.errors import RateLimited
from worker.core.operations import Action, Operation
from worker.sending.aimd import Aimd
from worker.sending.concurrency import Concurrency
from worker.sending.control import RunControl
from worker.sending.engine import Engine
from worker.sending.ratelimit import RateLimiter
from worker.sending.requester import Requester
from worker.sending.retrypolicy import RetryPolicy
from worker.sending.row import RowWork


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
    return Aimd(limiter, clock=clock, **options), limiter, clock  # type: ignore[arg-type]


def successes(aimd: Aimd, clock: Clock, per_s: float, seconds: float) -> None:
    """`per_s` successful requests a second for `seconds`, evenly."""
    for _ in range(round(per_s * seconds)):
        clock.now += 1 / per_s
        aimd.on_success()


def test_the_first_429_cuts_to_seven_tenths_since_nothing_measured_says_what_is_left():
    aimd, limiter, clock = make_aimd()
    successes(aimd, clock, 100, 5.0)  # all of them went through
    assert aimd.on_throttled(sent_at=clock.now)
    assert limiter.rate_per_s == pytest.approx(70.0)


def test_a_volley_of_429s_for_requests_sent_before_the_step_is_one_signal():
    aimd, limiter, clock = make_aimd()
    sent = clock.now - 0.05  # twenty requests in flight, all sent at the full rate
    steps = [aimd.on_throttled(sent_at=sent) for _ in range(20)]
    assert steps.count(True) == 1 and limiter.rate_per_s == pytest.approx(70.0)


def test_a_later_429_steps_to_the_rate_the_server_was_measured_to_accept():
    aimd, limiter, clock = make_aimd()
    aimd.on_throttled(sent_at=clock.now)  # 70/s
    successes(aimd, clock, 61.0, 1.5)  # at 70/s sent, 61/s got through: the others take 9
    assert aimd.on_throttled(sent_at=clock.now - 0.01)
    assert limiter.rate_per_s == pytest.approx(61.0, rel=0.02)
    assert aimd.measured == pytest.approx(61.0, rel=0.02)


def test_a_fresh_429_too_soon_to_measure_changes_nothing():
    aimd, limiter, clock = make_aimd()
    aimd.on_throttled(sent_at=clock.now)
    limiter.waiting = 0  # no growth in between
    successes(aimd, clock, 50.0, 0.5)  # half a second: too few requests to judge by
    assert not aimd.on_throttled(sent_at=clock.now - 0.01)
    assert limiter.rate_per_s == pytest.approx(70.0)


def test_above_what_was_last_accepted_a_step_goes_at_least_3_percent_down():
    aimd, limiter, clock = make_aimd()
    aimd.on_throttled(sent_at=clock.now)
    limiter.waiting = 0  # no growth in between
    # As many got through as were sent: the others took the refusals, unseen by us.
    successes(aimd, clock, 70.0, 1.5)
    aimd.on_throttled(sent_at=clock.now)
    assert limiter.rate_per_s == pytest.approx(70.0 * 0.97)


def test_at_the_rate_last_measured_an_isolated_429_only_takes_off_what_it_refused():
    aimd, limiter, clock = make_aimd()
    aimd.on_throttled(sent_at=clock.now)
    limiter.waiting = 0
    successes(aimd, clock, 60.0, 1.5)
    aimd.on_throttled(sent_at=clock.now)  # measured: 60/s
    # Two seconds at 60/s with one request refused (a bunch at the server, say): not a
    # reason to give up 3% more.
    successes(aimd, clock, 59.5, 2.0)
    assert aimd.on_throttled(sent_at=clock.now)
    assert limiter.rate_per_s == pytest.approx(59.5, rel=0.01)


def test_a_measured_step_never_raises_the_rate_nor_more_than_halves_it():
    aimd, limiter, clock = make_aimd()
    aimd.on_throttled(sent_at=clock.now)
    limiter.waiting = 0
    successes(aimd, clock, 60.0, 1.5)
    aimd.on_throttled(sent_at=clock.now)  # measured: 60/s
    successes(aimd, clock, 90.0, 1.5)  # more than the rate (a burst the server allowed)
    aimd.on_throttled(sent_at=clock.now)
    assert limiter.rate_per_s == pytest.approx(60.0, rel=0.01)
    successes(aimd, clock, 5.0, 2.0)  # nearly everything refused
    aimd.on_throttled(sent_at=clock.now)
    assert limiter.rate_per_s == pytest.approx(30.0, rel=0.01)


def test_the_measure_counts_only_since_the_last_step_and_at_most_two_seconds_back():
    aimd, limiter, clock = make_aimd()
    limiter.waiting = 0
    successes(aimd, clock, 100.0, 10.0)
    aimd.on_throttled(sent_at=clock.now)  # 70/s
    successes(aimd, clock, 40.0, 0.6)
    assert aimd.accepted_per_s(clock.now)[0] == pytest.approx(40.0, rel=0.05)
    successes(aimd, clock, 60.0, 3.0)
    accepted, span = aimd.accepted_per_s(clock.now)
    assert accepted == pytest.approx(60.0, rel=0.03) and span <= 2.0


def test_near_the_measured_rate_it_probes_gently_three_percent_a_minute():
    aimd, limiter, clock = make_aimd()
    aimd.on_throttled(sent_at=clock.now)
    successes(aimd, clock, 60.0, 1.5)
    aimd.on_throttled(sent_at=clock.now)  # measured: 60/s
    start = limiter.rate_per_s
    successes(aimd, clock, 60.0, 30.0)
    assert limiter.rate_per_s - start == pytest.approx(60.0 * 0.03 / 2, rel=0.02)


def test_far_below_it_climbs_back_what_the_first_cut_took_in_about_thirty_seconds():
    aimd, limiter, clock = make_aimd()
    aimd.on_throttled(sent_at=clock.now)  # 70/s, nothing measured yet
    successes(aimd, clock, 70.0, 15.0)
    assert limiter.rate_per_s == pytest.approx(85.0, rel=0.01)
    successes(aimd, clock, 85.0, 20.0)
    assert limiter.rate_per_s == 100.0  # and never above the configured rate


def test_no_growth_when_the_meter_is_not_what_holds_requests_back():
    aimd, limiter, clock = make_aimd()
    aimd.on_throttled(sent_at=clock.now)
    limiter.waiting = 0  # concurrency or latency is the limit: the rate is not tested
    successes(aimd, clock, 10.0, 60.0)
    assert limiter.rate_per_s == pytest.approx(70.0)
    limiter.waiting = 3  # held back by the meter again: growth counts from now
    clock.now += 3.0
    aimd.on_success()
    assert limiter.rate_per_s == pytest.approx(70.0 + 3 * 30.0 / 30.0)


def test_time_paused_for_every_sender_is_not_counted_as_growth():
    aimd, limiter, clock = make_aimd()
    limiter.paused_until = clock.now + 5.0  # a long Retry-After: everyone waits
    aimd.on_throttled(sent_at=clock.now)
    clock.now += 6.0
    aimd.on_success()  # one second after the pause
    assert limiter.rate_per_s == pytest.approx(70.0 + 1.0)


def test_the_rate_never_falls_below_the_floor():
    aimd, limiter, clock = make_aimd(floor=0.2)
    limiter.waiting = 0
    for _ in range(20):
        clock.now += 5.0
        aimd.on_throttled(sent_at=clock.now)  # nothing gets through at all
    assert limiter.rate_per_s == pytest.approx(20.0)


# --- a shared quota, end to end on a fake clock ------------------------------------------

class Bucket:
    """The server's quota: a token bucket, Retry-After in whole seconds (at least 1)."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate, self.burst = rate_per_s, burst
        self.tokens, self.at = float(burst), 0.0
        self.log: list[tuple[float, bool, bool]] = []  # (time, accepted, ours)

    def take(self, now: float, ours: bool) -> int | None:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        accepted = self.tokens >= 1
        self.tokens -= accepted
        self.log.append((now, accepted, ours))
        return None if accepted else max(1, math.ceil((1 - self.tokens) / self.rate))


async def share_of_what_is_left(rows: int, seed: int) -> tuple[float, float, int]:
    """Quota 3,000/min, another integration steadily sending 1,000/min, the worker
    configured for the whole quota: (our share of what is left, our 429 share, the other
    integration's 429s), over our sending span."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    bucket = Bucket(50.0, 5)
    done = asyncio.Event()

    async def other() -> None:  # arrives 1-6 ms after it sends
        start, i = loop.time(), 0
        while not done.is_set():
            i += 1
            loop.call_later(rng.uniform(0.001, 0.006),
                            lambda: bucket.take(loop.time(), False))
            await asyncio.sleep(max(0.0, start + i / (1000 / 60) - loop.time()))

    async def send(op: Operation) -> int:
        await asyncio.sleep(rng.uniform(0.0004, 0.0036))
        retry_after = bucket.take(loop.time(), True)
        await asyncio.sleep(0.002)
        if retry_after is not None:
            raise RateLimited("429", retry_after_s=retry_after)
        return 200

    other_task = asyncio.create_task(other())
    await asyncio.sleep(2.0)  # the other integration was there first
    limiter = RateLimiter(3000)
    control = RunControl()
    gate = Concurrency(64)
    requester = Requester(limiter, RetryPolicy(), control, watchers=[Aimd(limiter)],
                          concurrency=gate)
    work = RowWork(requester, send, no_reads)
    engine = Engine(work, control, concurrency=gate)
    results = []
    await engine.run([Operation(row=i + 1, conversation_id=i + 1, action=Action.CLOSE)
                      for i in range(rows)], results.append)
    done.set()
    await other_task
    assert all(r.outcome.value == "ok" for r in results)
    ours = [t for t, _, mine in bucket.log if mine]
    start, end = min(ours), max(ours)
    span = [(ok, mine) for t, ok, mine in bucket.log if start <= t <= end]
    left = 50.0 - span.count((True, False)) / (end - start)
    our_ok, our_429 = span.count((True, True)), span.count((False, True))
    return (our_ok / (end - start) / left, our_429 / (our_ok + our_429),
            span.count((False, False)))


@pytest.mark.looptime
@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_a_30_s_job_on_a_shared_quota_gets_what_is_left_with_few_429s(seed):
    used, share_429, _ = await share_of_what_is_left(1000, seed)  # 30 s at 2,000/min
    assert used >= 0.95
    assert share_429 < 0.01


@pytest.mark.looptime
async def test_with_the_real_limiter_a_volley_in_flight_steps_once():
    limiter = RateLimiter(6000)  # 100/s
    aimd = Aimd(limiter)

    async def request(answer: int) -> None:
        await limiter.acquire()
        await asyncio.sleep(0.2)  # in flight
        if answer == 429:
            aimd.on_throttled()
        else:
            aimd.on_success()

    # Ten requests sent back to back (0.1 s) all meet 429 (from 0.2 s on): one step.
    await asyncio.gather(*(request(429) for _ in range(10)))
    assert aimd.cuts == 1 and limiter.rate_per_s == pytest.approx(70.0)
    # A 429 for a request sent at the new rate, once 1 s was measured, is a new signal.
    await asyncio.gather(*(request(200) for _ in range(90)))
    await request(429)
    assert aimd.cuts == 2 and limiter.rate_per_s < 70.0
