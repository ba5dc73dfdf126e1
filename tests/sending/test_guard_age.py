"""No guarded PATCH, first or retried, goes on a state older than the guard's max age
(`guard_max_age_s`): the row reads the conversation again, then decides. Fake time
(looptime): the waits are the retry policy's and the limiter's, not sleeps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from helpers import FakeSender, make_engine
from worker.core.conversation import ConversationState
from worker.core.errors import RateLimited, ServerError
from worker.core.guards import Guard
from worker.core.operations import Action, Operation
from worker.core.outcomes import Outcome
from worker.sending.ratelimit import RateLimiter
from worker.sending.retrypolicy import RetryPolicy

pytestmark = pytest.mark.looptime

JOB_MADE = datetime(2026, 12, 1, tzinfo=UTC)
QUIET = ConversationState(is_solved=False, is_expired=False, assignee=None,
                          last_message_at=datetime(2026, 11, 20, tzinfo=UTC))
WRITTEN_TO = ConversationState(is_solved=False, is_expired=False, assignee=None,
                               last_message_at=datetime(2026, 12, 5, tzinfo=UTC))
STALE_ROW = Operation(row=1, conversation_id=7, action=Action.CLOSE,
                      guard=Guard(status="open", no_message_after=JOB_MADE))


class Conversation:
    """The server's side of one conversation: its state changes at a given loop time (a
    customer writes in), and each GET is recorded with the loop time it was made."""

    def __init__(self, before: ConversationState, after: ConversationState,
                 changes_at: float) -> None:
        self.before, self.after, self.changes_at = before, after, changes_at
        self.reads: list[float] = []

    async def __call__(self, op: Operation) -> ConversationState:
        now = asyncio.get_running_loop().time()
        self.reads.append(now)
        await asyncio.sleep(0.05)
        return self.after if now >= self.changes_at else self.before


def policy(**kw) -> RetryPolicy:
    return RetryPolicy(**{"max_attempts": 5, "backoff_base_s": 4.0, "backoff_max_s": 4.0,
                          "max_retry_after_s": 120.0, **kw})


async def run_row(sender, conversation, *, max_age_s, retry=None):
    limiter = RateLimiter(6000, 1, jitter=0)
    engine = make_engine(sender, limiter, retry or policy(), read_back=conversation,
                         guard_max_age_s=max_age_s)
    results = []
    await engine.run([STALE_ROW], results.append)
    return results[0]


async def test_a_message_during_the_retries_is_seen_before_the_retried_patch():
    # GET at 0 (quiet), PATCH 503 "Retry-After: 3", so the retry is at least 3 s later;
    # a customer writes at 1 s.
    sender = FakeSender(script={7: [ServerError("503", http_status=503, retry_after_s=3.0,
                                                may_have_applied=False)] * 2})
    conversation = Conversation(QUIET, WRITTEN_TO, changes_at=1.0)
    result = await run_row(sender, conversation, max_age_s=2.0)
    assert result.outcome is Outcome.CHANGED
    assert "a message at 2026-12-05" in result.error and "not sent" in result.error
    assert len(sender.calls) < 3  # the retry that would have closed it never went
    assert len(conversation.reads) == 2  # read again once the first state was too old


async def test_a_long_retry_after_makes_the_guard_read_again_before_the_patch():
    sender = FakeSender(script={7: [RateLimited("429 Too Many Requests",
                                                retry_after_s=20.0)]})
    conversation = Conversation(QUIET, WRITTEN_TO, changes_at=5.0)
    result = await run_row(sender, conversation, max_age_s=10.0)
    assert result.outcome is Outcome.CHANGED
    assert len(sender.calls) == 1  # only the PATCH that met the 429
    assert len(conversation.reads) == 2 and conversation.reads[1] >= 20.0


async def test_a_fresh_guard_is_not_read_again_for_its_retry():
    sender = FakeSender(script={7: [ServerError("503", http_status=503, may_have_applied=False)]})
    conversation = Conversation(QUIET, WRITTEN_TO, changes_at=1000.0)
    result = await run_row(sender, conversation, max_age_s=30.0)
    assert result.outcome is Outcome.OK
    assert len(sender.calls) == 2 and len(conversation.reads) == 1
    assert result.reads == 1 and result.attempts == 3


async def test_a_max_age_of_0_reads_again_before_every_retry_not_before_the_first_patch():
    sender = FakeSender(script={7: [ServerError("503", http_status=503, may_have_applied=False),
                                    ServerError("503", http_status=503, may_have_applied=False)]})
    conversation = Conversation(QUIET, QUIET, changes_at=0.0)
    result = await run_row(sender, conversation, max_age_s=0.0)
    assert result.outcome is Outcome.OK
    assert len(sender.calls) == 3
    assert len(conversation.reads) == 3  # one before the PATCH, one before each retry
    # every PATCH went out after a read younger than the retry's wait
    for (start, *_), read_at in zip(sender.calls, conversation.reads, strict=True):
        assert read_at <= start


async def test_a_lost_answer_then_a_read_again_that_shows_it_done_is_ok_in_effect():
    # The 503 came after the server closed it: the read before the retry shows it closed.
    closed = ConversationState(is_solved=True, is_expired=False, assignee=None,
                               last_message_at=QUIET.last_message_at)
    sender = FakeSender(script={7: [ServerError("503", http_status=503)]})
    conversation = Conversation(QUIET, closed, changes_at=0.01)
    result = await run_row(sender, conversation, max_age_s=0.0)  # every retry reads first
    assert result.outcome is Outcome.OK and len(sender.calls) == 1
    assert result.error.startswith("in effect, as reading it again before a retry shows")
