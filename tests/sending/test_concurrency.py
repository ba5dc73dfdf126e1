"""The concurrency gate on a fake clock (looptime): rows in flight follow rate x latency,
never past the cap, never faster than the rate, and shrink again when latency falls.

`drive()` does what the engine and a row's work do with it: the engine `acquire`s before
it starts a row; the row takes a permit from the real meter, is `busy` while its request
is out (a sleep of the current latency), then `ready`, then `release`s."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from worker.sending.concurrency import Concurrency, spare_for
from worker.sending.ratelimit import RateLimiter

pytestmark = pytest.mark.looptime


@dataclass
class Seen:
    started: list[float] = field(default_factory=list)  # permit times
    in_use: list[tuple[float, int]] = field(default_factory=list)  # (time, rows in use)
    most_busy: int = 0


async def drive(gate: Concurrency, rate_per_minute: float, rows: int,
                latency: Callable[[int], float]) -> Seen:
    limiter = RateLimiter(rate_per_minute, jitter=0)  # exact spacing to assert on
    loop = asyncio.get_running_loop()
    seen = Seen()
    tasks = set()

    async def row(i: int) -> None:
        try:
            await limiter.acquire()
            seen.started.append(loop.time())
            gate.busy()
            seen.most_busy = max(seen.most_busy, gate.busy_rows)
            try:
                await asyncio.sleep(latency(i))
            finally:
                gate.ready()
        finally:
            gate.release()

    for i in range(rows):
        await gate.acquire()
        seen.in_use.append((loop.time(), gate.in_use))
        task = asyncio.create_task(row(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return seen


@pytest.mark.parametrize("latency_s, expected", [(0.05, 1), (0.5, 10), (2.0, 40)])
async def test_requests_in_flight_grow_with_latency_to_rate_times_latency(latency_s,
                                                                          expected):
    gate = Concurrency(64)
    seen = await drive(gate, 1200, 300, lambda i: latency_s)  # 20/s
    assert expected <= seen.most_busy <= expected + 1
    assert gate.most_in_use <= seen.most_busy + 2  # and only `spare` more wait at the meter
    assert gate.cap_held() == 0.0


async def test_it_keeps_the_configured_rate_whatever_the_latency():
    for latency_s in (0.05, 0.5, 2.0):
        seen = await drive(Concurrency(64), 1200, 200, lambda i, s=latency_s: s)
        span = seen.started[-1] - seen.started[0]
        assert span == pytest.approx(199 * 0.05, rel=0.002)  # one permit every 50 ms


async def test_never_past_the_cap_and_the_time_the_cap_held_it_back_is_counted():
    gate = Concurrency(16)
    loop = asyncio.get_running_loop()
    start = loop.time()
    seen = await drive(gate, 1200, 200, lambda i: 4.0)  # needs 80 in flight
    assert seen.most_busy == 16 and gate.most_in_use == 16
    assert max(n for _, n in seen.in_use) == 16
    # 16 every 4 s instead of 20 a second: the cap, not the rate, held most of the run.
    wall = loop.time() - start
    assert wall == pytest.approx(200 / 16 * 4.0, rel=0.05)
    assert gate.cap_held() > 0.75 * wall


async def test_never_faster_than_the_rate_and_never_a_burst():
    gate = Concurrency(64)
    seen = await drive(gate, 1200, 100, lambda i: 0.01)
    gaps = [b - a for a, b in zip(seen.started, seen.started[1:], strict=False)]
    assert min(gaps) >= 0.05 - 1e-6  # even at the very start: no burst of 64
    # And no more rows exist than the requests out plus the spare ones at the meter.
    assert gate.most_in_use <= 1 + 2


async def test_it_shrinks_again_when_latency_falls():
    gate = Concurrency(64)
    slow_rows = 100  # 5 s at 20/s, each taking 2 s: 40 out at once
    seen = await drive(gate, 1200, 300, lambda i: 2.0 if i < slow_rows else 0.05)
    assert seen.most_busy >= 40
    # Once the slow replies are back (from ~7 s on), a reply in 50 ms needs one or two.
    late = [n for t, n in seen.in_use if t > 9.0]
    assert late and max(late) <= 1 + 1 + 2


async def test_a_row_waiting_out_a_retry_counts_as_busy_so_the_meter_stays_fed():
    gate = Concurrency(64)
    # Every 10th row waits 3 s (a backoff) before a quick request: the others go on.
    seen = await drive(gate, 1200, 200, lambda i: 3.0 if i % 10 == 0 else 0.02)
    span = seen.started[-1] - seen.started[0]
    assert span == pytest.approx(199 * 0.05, rel=0.002)



def test_spare_covers_a_loop_turn_of_permits_at_high_rates():
    assert spare_for(5.0) == 2
    assert spare_for(1000.0) == 5
    with pytest.raises(ValueError):
        Concurrency(0)
