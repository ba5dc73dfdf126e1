"""The kinds of request a row makes, the callables that make them, and the stop between
them: the vocabulary of `worker.sending.rowwork`, for the work that uses it (`verify`'s
reads, `select`'s pages)."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from worker.core.conversation import ConversationState
from worker.core.operations import Operation

__all__ = ["Capture", "Interrupted", "ReadState", "Send", "Step"]

Send = Callable[[Operation], Awaitable[object]]
ReadState = Callable[[Any], Awaitable[ConversationState]]


class Step(enum.Enum):
    """Which of a row's requests an attempt is: the request log and the counts differ."""

    CAPTURE = "capture"  # the state before the first change, for --undo-out
    CHANGE = "change"  # the row's change itself (the only PATCH)
    READ_BACK = "read-back"  # the state after a lost answer
    READ = "read"  # a read that is the work itself (verify)

    @property
    def method(self) -> str:
        return "PATCH" if self is Step.CHANGE else "GET"


class Capture(Protocol):
    """Reads a conversation's state before its first change (for `--undo-out`)."""

    def needed(self, conversation_id: int) -> bool: ...
    async def __call__(self, op: Operation) -> object: ...


class Interrupted(Exception):
    """Raised inside a row's retry loop when the run stops between attempts."""
