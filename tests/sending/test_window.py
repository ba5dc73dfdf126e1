"""A `--finish-by` window on a fake clock: no request starts after it closes, the rows in
flight finish, the rest are skipped in order."""

from __future__ import annotations

import asyncio

import pytest

from helpers import FakeSender, make_engine, ops
from worker.core.outcomes import Outcome
from worker.sending.control import RunControl, StopReason
from worker.sending.ratelimit import RateLimiter
from worker.sending.retrypolicy import RetryPolicy


@pytest.mark.looptime
async def test_no_request_starts_after_the_window_closes_and_the_rest_are_skipped():

    sender = FakeSender(latency_s=0.5)
    limiter = RateLimiter(60, jitter=0)  # one request a second
    engine = make_engine(sender, limiter, RetryPolicy(max_attempts=2), concurrency=4)
    loop = asyncio.get_running_loop()
    closes = loop.time() + 10.2
    engine.control.close_window_at(closes, "the window closed")
    results = []
    await engine.run(ops(30), results.append)

    assert engine.control.stop is not None
    assert engine.control.stop.reason is StopReason.WINDOW
    assert [r.row for r in results] == list(range(1, 31))  # whole, in order
    started = [start for start, _, _, _ in sender.calls]
    assert started and max(started) <= closes
    ok = [r for r in results if r.outcome is Outcome.OK]
    assert len(ok) == len(sender.calls) == 11  # t = 0, 1, ..., 10 (the last in flight)
    assert all(r.outcome is Outcome.SKIPPED and "window closed" in r.error
               for r in results[len(ok):])


@pytest.mark.looptime
async def test_a_request_is_refused_past_the_window_even_before_its_timer_fires():


    control = RunControl()
    loop = asyncio.get_running_loop()
    timer = control.close_window_at(loop.time() + 5, "closed")
    assert control.may_start()
    timer.cancel()  # as if the timer fired late: the check alone must close the window
    await asyncio.sleep(5)
    assert not control.may_start()
    assert control.stop is not None and control.stop.reason is StopReason.WINDOW
    assert not control.aborted  # a closed window is no abort
