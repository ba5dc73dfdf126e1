"""Engine logic with a fake sender and fake loop time (looptime): no real sleeping."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from helpers import FakeSender, make_engine, ops, run_engine
from worker.core.conversation import ConversationState
from worker.core.errors import NetworkError, RateLimited, Rejected, ServerError, Unauthorized
from worker.core.operations import Action, Operation
from worker.core.outcomes import Outcome, Result
from worker.core.stops import StopReason
from worker.sending.watchers import Breaker

pytestmark = pytest.mark.looptime


async def test_requests_are_paced_evenly_at_the_configured_rate(sender):
    _, results = await run_engine(ops(50), sender, rate_per_minute=600, concurrency=8)
    starts = sorted(c[0] for c in sender.calls)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # 600/min: one every 0.1 s (plus the limiter's 0.1% headroom), no burst
    assert min(gaps) == pytest.approx(0.1001, abs=1e-6)
    assert starts[-1] - starts[0] == pytest.approx(49 * 0.1001, abs=1e-3)
    assert [r.outcome for r in results] == [Outcome.OK] * 50


async def test_results_come_out_in_row_order_and_concurrency_is_bounded():
    sender = FakeSender(latency_s=0.0)
    # Later rows finish first: odd conversations answer slowly.
    slow = FakeSender(latency_s=1.0)

    async def mixed(op):
        return await (slow if op.conversation_id % 2 else sender)(op)

    _, results = await run_engine(ops(40), mixed, concurrency=5)
    assert [r.row for r in results] == list(range(1, 41))
    assert slow.max_in_flight + sender.max_in_flight <= 5 + 1
    assert slow.max_in_flight <= 5


async def test_concurrency_is_never_exceeded():
    sender = FakeSender(latency_s=2.0)
    await run_engine(ops(30), sender, concurrency=3, rate_per_minute=60000)
    assert sender.max_in_flight == 3


async def test_a_429_pauses_every_sender_for_retry_after(sender):
    sender.script[5] = [RateLimited("429", retry_after_s=3.0)]
    _, results = await run_engine(ops(20), sender, rate_per_minute=600, concurrency=4)
    the_429 = next(c for c in sender.calls if c[2] == 5)
    later_starts = [c[0] for c in sender.calls if c[0] > the_429[0]]
    # Nobody starts within the pause announced when the 429 came back.
    assert all(s >= the_429[1] + 3.0 for s in later_starts)
    row5 = results[4]
    assert (row5.outcome, row5.attempts, row5.throttled) == (Outcome.OK, 2, 1)


async def test_after_a_pause_pacing_resumes_without_a_burst(sender):
    sender.script[3] = [RateLimited("429", retry_after_s=5.0)]
    await run_engine(ops(30), sender, rate_per_minute=600, burst=5, concurrency=8)
    starts = sorted(c[0] for c in sender.calls)
    resumed = [s for s in starts if s > starts[3] + 5.0]
    gaps = [b - a for a, b in itertools.pairwise(resumed)]
    assert gaps and min(gaps) >= 0.1 - 1e-6


async def test_5xx_then_success_is_retried_with_backoff(sender):
    sender.script[1] = [ServerError("503", http_status=503), NetworkError("reset"), 200]
    _, results = await run_engine(ops(1), sender, max_attempts=5)
    assert (results[0].outcome, results[0].attempts, results[0].http_status) == \
        (Outcome.OK, 3, 200)
    starts = [c[0] for c in sender.calls]
    assert starts[1] > starts[0] and starts[2] > starts[1]


async def test_gives_up_after_max_attempts(sender):
    sender.script[1] = [ServerError("503 Service Unavailable", http_status=503)] * 10
    _, results = await run_engine(ops(1), sender, max_attempts=3)
    r = results[0]
    # Three PATCHes, then the read-back's two tries (the helper's reads are down too).
    assert (r.outcome, r.attempts - r.reads, r.reads, r.http_status) == (
        Outcome.FAILED, 3, 2, 503)
    assert len(sender.calls) == 3
    assert "gave up after 3 attempts" in r.error and "reading it back failed too" in r.error


async def test_a_400_is_not_retried(sender):
    sender.script[1] = [Rejected("400 assigned_user_id: user not found", http_status=400)]
    _, results = await run_engine(ops(1), sender)
    r = results[0]
    assert (r.outcome, r.attempts, r.http_status) == (Outcome.FAILED, 1, 400)
    assert r.error == "400 assigned_user_id: user not found"


async def test_429s_do_not_use_up_attempts(sender):
    sender.script[1] = [RateLimited("429", retry_after_s=1.0)] * 6 + [200]
    _, results = await run_engine(ops(1), sender, max_attempts=2)
    assert (results[0].outcome, results[0].attempts, results[0].throttled) == \
        (Outcome.OK, 7, 6)


async def test_a_row_gives_up_when_its_429_budget_is_spent(sender):
    sender.script[1] = [RateLimited("429", retry_after_s=7200.0)] * 50
    _, results = await run_engine(ops(1), sender, budget_s=300.0)
    r = results[0]
    assert r.outcome is Outcome.FAILED and r.http_status == 429
    assert "asked to wait 7200 s, capped at max_retry_after_s=120" in r.error
    assert r.throttled == 3  # 120 + 120 + 120 >= 300


async def test_rows_for_one_conversation_run_in_file_order_without_overlap(sender):
    items = [Operation(row=1, conversation_id=7, action=Action.ASSIGN, value="a"),
             Operation(row=2, conversation_id=8, action=Action.CLOSE),
             Operation(row=3, conversation_id=7, action=Action.ASSIGN, value="b"),
             Operation(row=4, conversation_id=7, action=Action.UNASSIGN)]
    sender.script[7] = [ServerError("502", http_status=502), 200, 200, 200]
    _, results = await run_engine(items, sender, concurrency=8, max_attempts=3)
    calls7 = [c for c in sender.calls if c[2] == 7]
    assert [c[3] for c in calls7] == [{"assigned_user_id": "a"}, {"assigned_user_id": "a"},
                                       {"assigned_user_id": "b"},
                                       {"assigned_user_id": "unassigned"}]
    for earlier, later in itertools.pairwise(calls7):
        assert later[0] >= earlier[1]  # the next request starts after the previous ended
    assert [r.outcome for r in results] == [Outcome.OK] * 4


async def test_precomputed_results_pass_through_in_order(sender):
    bad = Result(row=2, conversation_id="abc", action="", value="",
                 outcome=Outcome.INVALID, error="nope")
    items = [Operation(row=1, conversation_id=1, action=Action.CLOSE), bad,
             Operation(row=3, conversation_id=3, action=Action.CLOSE)]
    _, results = await run_engine(items, sender)
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.INVALID, Outcome.OK]
    assert [c[2] for c in sender.calls] == [1, 3]


async def test_401_aborts_the_run_and_skips_the_rest(sender):
    sender.script[3] = [Unauthorized("401 authentication: User not authenticated: "
                                     "check PARTOO_API_KEY", http_status=401)]
    engine, results = await run_engine(ops(30), sender, concurrency=1)
    assert engine.control.aborted
    # The row that met the 401 is skipped too: --resume with a good key sends it.
    assert results[2].outcome is Outcome.SKIPPED and results[2].http_status == 401
    assert "401" in results[2].error and "--resume sends it again" in results[2].error
    assert all(r.outcome is Outcome.SKIPPED for r in results[3:])
    assert "401" in results[-1].error and "not attempted" in results[-1].error
    assert len(sender.calls) == 3
    assert [r.row for r in results] == list(range(1, 31))


async def test_circuit_breaker_stops_a_run_against_a_broken_api():
    sender = FakeSender(latency_s=0.01)
    for cid in range(1, 201):
        sender.script[cid] = [ServerError("503", http_status=503)] * 9
    engine, results = await run_engine(ops(200), sender, concurrency=4, max_attempts=2,
                                       breaker=Breaker(window=10, threshold=0.5))
    assert engine.control.aborted and "circuit breaker" in str(engine.control.stop or "")
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    assert 5 <= len(failed) <= 5 + 4  # tripped at 5, plus at most what was in flight
    assert len(results) == 200 and results[-1].outcome is Outcome.SKIPPED
    assert len(sender.calls) <= 2 * len(failed) + 4 * 2
    assert "the API looks down" in str(engine.control.stop or "")


async def test_a_quota_that_stays_used_up_trips_the_breaker_and_says_so():
    sender = FakeSender(latency_s=0.01)
    for cid in range(1, 101):
        sender.script[cid] = [RateLimited("429 rate limited", retry_after_s=1.0)] * 50
    engine, results = await run_engine(ops(100), sender, concurrency=4, budget_s=3.0,
                                       breaker=Breaker(window=10, threshold=0.5))
    assert engine.control.aborted
    assert "quota stays used up" in str(engine.control.stop or "")
    assert "looks down" not in str(engine.control.stop or "")
    assert results[-1].outcome is Outcome.SKIPPED


async def test_stop_lets_requests_in_flight_finish_and_skips_the_rest():
    sender = FakeSender(latency_s=1.0)
    items = ops(100)

    async def stop_soon(engine_box):
        await asyncio.sleep(2.5)
        engine_box[0].control.halt(StopReason.INTERRUPTED, "run interrupted (SIGINT)")

    from worker.sending.ratelimit import RateLimiter
    from worker.sending.retrypolicy import RetryPolicy

    engine = make_engine(sender, RateLimiter(600), RetryPolicy(), concurrency=4)
    results: list[Result] = []
    stopper = asyncio.create_task(stop_soon([engine]))
    await engine.run(items, results.append)
    await stopper
    sent = {c[2] for c in sender.calls}
    assert all(r.outcome is Outcome.OK for r in results if int(r.conversation_id) in sent)
    skipped = [r for r in results if r.outcome is Outcome.SKIPPED]
    assert len(sent) + len(skipped) == 100
    assert all(r.error == "not attempted: run interrupted (SIGINT)" for r in skipped)
    assert [r.row for r in results] == list(range(1, 101))


async def test_cancel_records_requests_in_flight_as_skipped():
    sender = FakeSender(latency_s=30.0)
    from worker.sending.ratelimit import RateLimiter
    from worker.sending.retrypolicy import RetryPolicy

    engine = make_engine(sender, RateLimiter(60000), RetryPolicy(), concurrency=3)
    results: list[Result] = []

    async def cancel_soon():
        await asyncio.sleep(1.0)
        engine.control.cancel()

    task = asyncio.create_task(cancel_soon())
    await engine.run(ops(10), results.append)
    await task
    assert [r.outcome for r in results] == [Outcome.SKIPPED] * 10
    assert "in flight" in results[0].error and "--resume" in results[0].error
    assert results[0].attempts == 1 and results[5].attempts == 0


async def test_the_window_bounds_how_far_ahead_rows_are_read():
    sender = FakeSender(latency_s=0.0)
    sender.script[1] = [ServerError("503", http_status=503)] * 2  # row 1 is slow to finish
    read: list[int] = []

    def items():
        for op in ops(200):
            read.append(op.row)
            yield op

    seen_when_row1_done: list[int] = []

    def emit(result):
        if result.row == 1:
            seen_when_row1_done.append(len(read))

    from worker.sending.ratelimit import RateLimiter
    from worker.sending.retrypolicy import RetryPolicy

    engine = make_engine(sender, RateLimiter(60000), RetryPolicy(), concurrency=4, window=20)
    await engine.run(items(), emit)
    assert seen_when_row1_done[0] <= 21


async def test_stop_during_a_backoff_says_the_row_was_not_finished_not_in_flight():
    sender = FakeSender(latency_s=0.01)
    sender.script[1] = [ServerError("503", http_status=503)] * 9
    from worker.sending.ratelimit import RateLimiter
    from worker.sending.retrypolicy import RetryPolicy

    engine = make_engine(sender, RateLimiter(60000),
                    RetryPolicy(max_attempts=9, backoff_base_s=60, backoff_max_s=60),
                    concurrency=2)
    results: list[Result] = []

    async def stop_soon():
        await asyncio.sleep(5)  # row 1 is sleeping in its backoff by then
        engine.control.halt(StopReason.INTERRUPTED, "run interrupted (SIGTERM)")

    task = asyncio.create_task(stop_soon())
    await engine.run(ops(1), results.append)
    await task
    (r,) = results
    assert r.outcome is Outcome.SKIPPED and r.attempts >= 1
    assert r.error.startswith("not finished after") and "in flight" not in r.error
    # What the last answer was, and what it means: a 503 may come after the change.
    assert r.http_status == 503 and "it may have been applied" in r.error
    assert "(last: 503)" in r.error  # what it met, though the stop came in its backoff
    assert "--resume sends it again" in r.error


class _ReadOnce:
    """A capture step (as `--undo-out` adds) that keeps each conversation's state once;
    the read itself is the row's (`read_back`), and it goes fine."""

    def __init__(self) -> None:
        self.read: set[int] = set()

    def needed(self, conversation_id: int) -> bool:
        return conversation_id not in self.read

    def record(self, conversation_id: int, state: ConversationState) -> None:
        self.read.add(conversation_id)


async def _open_state(op: Operation) -> ConversationState:
    return ConversationState(False, False, None)


async def test_a_successful_state_read_does_not_use_up_the_rows_attempts(sender):
    sender.script[1] = [ServerError("503", http_status=503)] * 2  # the third PATCH succeeds
    capture = _ReadOnce()
    _, (result,) = await run_engine(ops(1), sender, max_attempts=3, capture=capture,
                                    read_back=_open_state)
    assert (result.outcome, result.attempts, result.reads) == (Outcome.OK, 4, 1)
    assert capture.read == {1}


async def test_a_row_stopped_after_a_timeout_says_it_may_have_applied_once():
    sender = FakeSender(latency_s=0.01)
    sender.script[1] = [NetworkError("no answer within 30 s (timeout; it may have been "
                                     "applied)")] * 9
    from worker.sending.ratelimit import RateLimiter
    from worker.sending.retrypolicy import RetryPolicy

    engine = make_engine(sender, RateLimiter(60000),
                    RetryPolicy(max_attempts=9, backoff_base_s=60, backoff_max_s=60),
                    concurrency=2)
    results: list[Result] = []

    async def stop_soon():
        await asyncio.sleep(5)
        engine.control.halt(StopReason.INTERRUPTED, "run interrupted (SIGINT)")

    task = asyncio.create_task(stop_soon())
    await engine.run(ops(1), results.append)
    await task
    (r,) = results
    assert r.outcome is Outcome.SKIPPED and r.http_status is None
    assert r.error.count("may have been applied") == 1 and "timeout" in r.error
