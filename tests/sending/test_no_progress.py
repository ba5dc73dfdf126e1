"""A quota used up for good (429 with a day-long Retry-After on every request), on a fake
clock: the stack a run builds stops within minutes, not hours, once no request went
through for `no_progress_timeout_s`; requests that go through now and then keep it going."""

from __future__ import annotations

import asyncio

import pytest

from helpers import no_reads
from worker.config import Settings
from worker.core.errors import RateLimited
from worker.core.operations import Action, Operation
from worker.core.stops import StopReason
from worker.sending.control import RunControl
from worker.sending.engine import Engine
from worker.sending.row import RowWork
from worker.sending.stack import pacing

DAY_S = 86_400.0


async def used_up_for_good(op: Operation) -> int:
    await asyncio.sleep(0.05)
    raise RateLimited("429 Too Many Requests", retry_after_s=DAY_S)


async def run_rows(rows: int, send, settings: Settings) -> tuple[RunControl, list, float]:
    """`rows` rows through the stack a run builds from `settings`; loop time it took."""
    guard = pacing(settings)
    control = RunControl()
    work = RowWork(guard.requester(control), send, no_reads)
    engine = Engine(work, control, concurrency=guard.concurrency)
    results: list = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    await engine.run([Operation(row=i + 1, conversation_id=i + 1, action=Action.CLOSE)
                      for i in range(rows)], results.append)
    return control, results, loop.time() - started


@pytest.mark.looptime
async def test_at_the_defaults_a_quota_used_up_for_good_stops_the_run_within_minutes():
    settings = Settings(api_key="k")
    control, results, took_s = await run_rows(300, used_up_for_good, settings)
    assert control.stop is not None and control.stop.reason is StopReason.NO_PROGRESS
    # The timeout, plus at most one capped pause before the next 429 says so.
    assert took_s <= settings.no_progress_timeout_s + 2 * settings.max_retry_after_s
    assert "quota stays used up" in control.stop.detail
    assert len(results) == 300
    assert all(r.outcome.value in ("skipped", "failed") for r in results)


@pytest.mark.looptime
async def test_requests_that_go_through_now_and_then_keep_the_run_going():
    calls = 0

    async def mostly_throttled(op: Operation) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        if calls % 10:
            raise RateLimited("429 Too Many Requests", retry_after_s=60.0)
        return 200

    control, results, took_s = await run_rows(30, mostly_throttled, Settings(api_key="k"))
    assert control.stop is None  # slow going, but going: rows end on their own budgets
    assert took_s > Settings().no_progress_timeout_s
    assert any(r.outcome.value == "ok" for r in results)
