"""Reading a conversation back when the answer to its change left open whether it landed.

Engine logic with a fake sender, a fake read-back and fake loop time.
"""

from __future__ import annotations

import pytest

from helpers import ops, run_engine
from worker.core.conversation import ConversationState, read_state
from worker.core.errors import (
    NetworkError,
    RateLimited,
    Rejected,
    ServerError,
    Unauthorized,
    Unexpected,
)
from worker.core.operations import Action, Operation
from worker.core.outcomes import Outcome
from worker.sending.row import describe_state, holds
from worker.sending.watchers import Breaker

pytestmark = pytest.mark.looptime

OPEN = ConversationState(is_solved=False, is_expired=False, assignee=None)
CLOSED = ConversationState(is_solved=True, is_expired=False, assignee=None)
ALICE = "62d80fae74e8b11d700302b8"


class FakeReadBack:
    """Answers per conversation from a script (a ConversationState, or an exception to raise)."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[int] = []

    async def __call__(self, op: Operation) -> ConversationState:
        self.calls.append(op.conversation_id)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, ConversationState)
        return answer


def five_hundreds(n: int) -> list[object]:
    return [ServerError("500 Internal Server Error", http_status=500) for _ in range(n)]


async def test_a_change_whose_answers_were_lost_is_ok_when_the_conversation_holds_it(sender):
    sender.script[1] = five_hundreds(3)
    read_back = FakeReadBack(CLOSED)
    _, (result,) = await run_engine(ops(1), sender, max_attempts=3, read_back=read_back)
    assert (result.outcome, result.http_status, result.attempts) == (Outcome.OK, 200, 4)
    assert "in effect, as reading it back shows" in result.error
    assert "500 Internal Server Error" in result.error
    assert read_back.calls == [1] and result.reads == 1


async def test_a_change_not_found_on_read_back_is_failed_and_says_what_is_there(sender):
    sender.script[1] = five_hundreds(3)
    _, (result,) = await run_engine(ops(1), sender, max_attempts=3,
                                    read_back=FakeReadBack(OPEN))
    assert (result.outcome, result.http_status, result.attempts) == (Outcome.FAILED, 500, 4)
    assert "gave up after 3 attempts; not applied: reading it back shows open" in result.error


async def test_a_refusal_after_a_lost_answer_is_the_rows_verdict(sender):
    """The first answer was lost, the retry refused (re-opening an expired conversation,
    say): the refusal is the verdict, as it would be without the lost answer. Reading
    back would only find the conversation as it was, and call that "in effect"."""
    sender.script[1] = [NetworkError("the server closed the connection"),
                        Rejected("400 conversation is expired", http_status=400)]
    read_back = FakeReadBack(OPEN)
    _, (result,) = await run_engine(ops(1, action=Action.OPEN), sender, read_back=read_back)
    assert (result.outcome, result.attempts, result.http_status) == (Outcome.FAILED, 2, 400)
    assert result.error == "400 conversation is expired" and read_back.calls == []


async def test_429s_after_a_lost_answer_are_no_verdict_so_it_is_read_back(sender):
    sender.script[1] = [ServerError("500", http_status=500)] + [
        RateLimited("429 rate limited", retry_after_s=1.0) for _ in range(10)]
    read_back = FakeReadBack(CLOSED)
    _, (result,) = await run_engine(ops(1), sender, budget_s=3.0, read_back=read_back)
    assert result.outcome is Outcome.OK and read_back.calls == [1]
    assert "in effect, as reading it back shows" in result.error


async def test_a_failed_read_back_leaves_the_row_failed_and_uncertain(sender):
    sender.script[1] = five_hundreds(3)
    read_back = FakeReadBack(ServerError("503 Service Unavailable", http_status=503))
    _, (result,) = await run_engine(ops(1), sender, max_attempts=3, read_back=read_back)
    assert (result.outcome, result.http_status) == (Outcome.FAILED, 500)
    assert "may or may not have been applied" in result.error
    assert "reading it back failed too: 503 Service Unavailable" in result.error
    assert len(read_back.calls) == 2  # one retry at most: the API is already failing
    assert result.attempts == 5 and result.reads == 2


@pytest.mark.parametrize("error", [
    Rejected("404 Resource not found", http_status=404),
    NetworkError("cannot connect", may_have_applied=False),
    Unauthorized("401 User not authenticated", http_status=401),
], ids=["refused", "never connected", "401"])
async def test_no_read_back_when_the_answer_says_nothing_was_changed(sender, error):
    sender.script[1] = [error] * 5
    read_back = FakeReadBack(CLOSED)
    _, (result,) = await run_engine(ops(1), sender, max_attempts=3, read_back=read_back)
    assert result.outcome in (Outcome.FAILED, Outcome.SKIPPED) and read_back.calls == []
    assert "reading it back" not in result.error


async def test_a_200_that_is_not_partoos_answer_is_read_back(sender):
    sender.script[1] = [Unexpected("200 but not Partoo's success answer", http_status=200,
                                   may_have_applied=True)]
    read_back = FakeReadBack(OPEN)
    _, (result,) = await run_engine(ops(1), sender, read_back=read_back)
    assert result.outcome is Outcome.FAILED and read_back.calls == [1]
    assert "not applied: reading it back shows open" in result.error


async def test_rows_confirmed_by_read_back_do_not_trip_the_breaker(sender):
    for cid in range(1, 31):
        sender.script[cid] = five_hundreds(2)
    breaker = Breaker(window=20, threshold=0.5)
    engine, results = await run_engine(ops(30), sender, max_attempts=2, breaker=breaker,
                                       read_back=FakeReadBack(CLOSED))
    assert engine.control.stop is None
    assert [r.outcome for r in results] == [Outcome.OK] * 30


@pytest.mark.parametrize(("op", "state", "expected", "shown"), [
    (Operation(1, 1, Action.CLOSE), CLOSED, True, "closed"),
    (Operation(1, 1, Action.CLOSE), OPEN, False, "open"),
    (Operation(1, 1, Action.OPEN), OPEN, True, "open"),
    (Operation(1, 1, Action.UNASSIGN), OPEN, True, "unassigned"),
    (Operation(1, 1, Action.ASSIGN, ALICE), OPEN, False, "unassigned"),
    (Operation(1, 1, Action.ASSIGN, ALICE), ConversationState(False, False, ALICE), True,
     f"assigned to {ALICE}"),
    (Operation(1, 1, Action.UNASSIGN), ConversationState(False, False, ALICE), False,
     f"assigned to {ALICE}"),
])
def test_holds_compares_only_the_field_the_row_changes(op, state, expected, shown):
    assert holds(state, op) is expected
    assert describe_state(state, op) == shown


async def test_a_401_on_the_read_back_stops_the_run_and_leaves_the_row_to_resume(sender):
    sender.script[1] = five_hundreds(3)
    read_back = FakeReadBack(Unauthorized("401 User not authenticated", http_status=401))
    engine, (result,) = await run_engine(ops(1), sender, max_attempts=3,
                                         read_back=read_back)
    assert engine.control.aborted and "401" in str(engine.control.stop or "")
    assert result.outcome is Outcome.SKIPPED and result.attempts == 4
    assert "--resume sends it again" in result.error


@pytest.mark.parametrize("assignee", [None, "", "unassigned"])
def test_a_conversation_read_back_unassigned_holds_an_unassign(assignee):
    # Partoo answers null; mocks and some exports write "unassigned": both mean nobody.
    state = read_state({"conversation": {"id": 1, "is_solved": False,
                                  "assigned_user_id": assignee}}, conversation_id=1)
    assert state.assignee is None
    assert holds(state, Operation(1, 1, Action.UNASSIGN))
    assert not holds(state, Operation(1, 1, Action.ASSIGN, "unassigned-user"))


@pytest.mark.parametrize(("status", "expired"), [("Closed", True), ("closed", True),
                                                 ("Open", False), ("open", False)])
def test_status_says_expired_in_any_case_when_is_expired_is_missing(status, expired):
    assert read_state({"id": 1, "is_solved": True, "status": status},
                      conversation_id=1).is_expired is expired


def test_an_answer_without_is_solved_is_not_a_conversation():
    with pytest.raises(Unexpected, match="no is_solved"):
        read_state({"id": 1, "status": "open"}, conversation_id=1)
