"""Read-back: when an answer does not say whether a change landed, ask the conversation.

A 5xx can come after the server made the change; a connection can drop, or the timeout
run out, once the request is out. When a row's last answer was of that kind
(`RequestError.may_have_applied`) and its retries are spent (or a retry was refused,
say 400 because the first attempt already did the job), the row's work reads the
conversation once (`GET /conversations/{id}`, paced and retried like any request) and
asks `ReadBack` whether it holds what the row asked for:

- it does: the row is `ok`, and its `error` cell says the answer was lost and how we know;
- it does not: the row is `failed`, and says what the conversation holds instead;
- the read fails too: the row stays `failed`, "may or may not have been applied".

So a report line says what the server really did, whatever the answer that came back.
A change made by someone else in between would be read as ours; for the few rows that
reach this step, that is the better guess than "unknown".
"""

from __future__ import annotations

from worker.core.conversation import ConversationState
from worker.core.operations import Field, Operation
from worker.partoo.client import PartooClient

__all__ = ["ReadBack", "describe_state", "holds"]


def holds(state: ConversationState, op: Operation) -> bool:
    """Does a conversation in `state` already hold what `op` asks for?"""
    now = state.status if op.action.field is Field.STATUS else state.assigned
    return now == op.action.target(op.value)


def describe_state(state: ConversationState, op: Operation) -> str:
    """The field `op` touches, as the conversation holds it (for a message)."""
    if op.action.field is Field.STATUS:
        return state.status
    return f"assigned to {state.assignee}" if state.assignee else "unassigned"


class ReadBack:
    """A row's read of its conversation: one GET, the state (the read-back, and the
    guard's and the undo capture's read before the change)."""

    def __init__(self, client: PartooClient) -> None:
        self._client = client

    async def __call__(self, op: Operation) -> ConversationState:
        return await self._client.read_conversation(op.conversation_id)
