"""Operations: one validated row of a job, ready to become one PATCH request.

A row becomes either an `Operation` or an invalid `Result` (never sent). The checks are
the ones the issue names and no more: the API, not we, decides whether a user id is a
user (it answers 400, and that row is `failed`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from worker.core.conversation import parse_date
from worker.core.errors import ConfigError
from worker.core.guards import (
    EXPECT_ASSIGNEE,
    EXPECT_NO_MESSAGE_AFTER,
    EXPECT_STATUS,
    UNASSIGNED,
    Guard,
)
from worker.core.outcomes import Outcome, Result

__all__ = ["Action", "Field", "Operation", "Override", "invalid", "make_override",
           "parse_action", "parse_conversation_id", "parse_guard"]

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() would accept '١٢٣' and '１２３'
_MAX_ID = 2**63 - 1
_HAS_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


class Field(enum.StrEnum):
    """A conversation's field an action changes; the value is the API's (and the job's) name."""

    STATUS = "status"
    ASSIGNEE = "assigned_user_id"


class Action(enum.StrEnum):
    CLOSE = "close"
    OPEN = "open"
    ASSIGN = "assign"
    UNASSIGN = "unassign"

    @property
    def field(self) -> Field:
        """The one field this action changes."""
        return _FIELD[self]

    def target(self, value: str = "") -> str:
        """The field's value once done: 'closed', 'open', the user id, or 'unassigned'."""
        return value if self is Action.ASSIGN else _TARGET[self]

    @classmethod
    def of(cls, text: str) -> Action | None:
        """The action a report's `action` cell names; None for an invalid row's ''."""
        return _BY_NAME.get(text)


_FIELD = {Action.CLOSE: Field.STATUS, Action.OPEN: Field.STATUS,
          Action.ASSIGN: Field.ASSIGNEE, Action.UNASSIGN: Field.ASSIGNEE}
_TARGET = {Action.CLOSE: "closed", Action.OPEN: "open", Action.UNASSIGN: "unassigned"}
_BY_NAME = {a.value: a for a in Action}


@dataclass(frozen=True, slots=True)
class Override:
    """`--action` / `--assign` for a plain list of ids: the same action for every row."""

    action: Action
    value: str = ""


def make_override(action: str | None, assign: str | None) -> Override | None:
    """The `Override` that --action / --assign (or `action=` / `assign=`) ask for, or None.

    Raises `ConfigError` with the fix: one of the two at most, a known action, a user id.
    """
    if action is not None and assign is not None:
        raise ConfigError("--action and --assign are one action each: give one of them")
    if assign is not None:
        if not assign.strip():
            raise ConfigError("--assign needs a user id (or use --action unassign)")
        try:
            kind, value = parse_action("", assign)
        except ValueError as exc:
            raise ConfigError(f"--assign: {exc}") from None
        return Override(kind, value)
    if action is None:
        return None
    if action not in _LIST_ACTIONS:
        raise ConfigError(f"--action {show(action)}: use close, open or unassign (or "
                          "--assign USER_ID)")
    return Override(Action(action))


_LIST_ACTIONS = ("close", "open", "unassign")


@dataclass(slots=True)
class Operation:
    row: int
    conversation_id: int
    action: Action
    value: str = ""  # the user id, for ASSIGN only
    cells: list[str] = field(default_factory=list)
    guard: Guard | None = None  # what the conversation must still be (worker.core.guards)

    def body(self) -> dict[str, str]:
        """The PATCH body: exactly one field, as the API demands."""
        return {self.action.field.value: self.action.target(self.value)}


def show(value: str, limit: int = 40) -> str:
    """A cell as it may appear inside a message: quoted, escaped, and not too long."""
    if len(value) > limit:
        value = value[:limit] + "…"
    return repr(value)


def parse_conversation_id(raw: object) -> int:
    """The one rule for a conversation id, wherever one comes from (a job's cell, a report,
    the list API's `id`, an undo journal): a positive whole number in ASCII digits, at
    most 2^63-1 (the API's own bound, so an id `select` writes is one `run` sends). The id
    as an int, or ValueError with the message for the report."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"conversation_id {show(repr(raw))} is not a conversation id")
    raw = str(raw)
    text = raw.strip(" \t")
    if not text:
        raise ValueError("conversation_id is empty: put the conversation's numeric id")
    if _DIGITS.fullmatch(text) and int(text) > _MAX_ID:
        raise ValueError(f"conversation_id {show(raw)} is too large to be a conversation id "
                         f"(at most {len(str(_MAX_ID))} digits, up to {_MAX_ID}): check the id")
    if not _DIGITS.fullmatch(text) or int(text) == 0:
        raise ValueError(
            f"conversation_id {show(raw)} is not a conversation id: "
            "use a positive whole number written with the digits 0-9"
        )
    return int(text)


def parse_action(status: str, assignee: str) -> tuple[Action, str]:
    """The action of a row from the API's own columns, or ValueError with the fix."""
    # Spaces around a cell are a spreadsheet's, not the value's: trimmed, as for the id.
    status_text = status.strip(" \t")
    assignee = assignee.strip(" \t")
    if status_text and assignee:
        raise ValueError(
            "both status and assigned_user_id are filled: the API takes one action per "
            "request, so split this row in two"
        )
    if status_text:
        lowered = status_text.lower()
        if lowered == "closed":
            return Action.CLOSE, ""
        if lowered == "open":
            return Action.OPEN, ""
        raise ValueError(f"status {show(status)} is not valid: use 'open' or 'closed'")
    if not assignee:
        raise ValueError(
            "no action: fill status ('open' or 'closed') or assigned_user_id "
            "(a user id or 'unassigned')"
        )
    if _HAS_SPACE_OR_CONTROL.search(assignee):
        raise ValueError(
            f"assigned_user_id {show(assignee)} holds spaces or control characters: "
            "remove them"
        )
    if assignee.lower() == "unassigned":
        return Action.UNASSIGN, ""
    return Action.ASSIGN, assignee


def parse_guard(status: str, assignee: str, no_message_after: str) -> Guard | None:
    """The row's guard from its three cells (empty: not checked), None when all are empty;
    ValueError naming the column and the fix for a cell that cannot be one."""
    status, assignee = status.strip(" \t"), assignee.strip(" \t")
    when_text = no_message_after.strip(" \t")
    if not (status or assignee or when_text):
        return None
    expected_status = None
    if status:
        expected_status = status.lower()
        if expected_status not in ("open", "closed"):
            raise ValueError(f"{EXPECT_STATUS} {show(status)} is not valid: use 'open' or "
                             "'closed' (what the conversation must still be), or leave it "
                             "empty to not check it")
    expected_assignee = None
    if assignee:
        if _HAS_SPACE_OR_CONTROL.search(assignee):
            raise ValueError(f"{EXPECT_ASSIGNEE} {show(assignee)} holds spaces or control "
                             "characters: put one user id, or 'unassigned'")
        expected_assignee = UNASSIGNED if assignee.lower() == UNASSIGNED else assignee
    when = None
    if when_text:
        when = parse_date(when_text)
        if when is None:
            raise ValueError(f"{EXPECT_NO_MESSAGE_AFTER} {show(when_text)} is not a time: use "
                             "ISO 8601, e.g. 2026-12-02T02:00:00Z (UTC when no offset is "
                             "given; years 1 to 9999 in UTC), or leave it empty to not "
                             "check it")
    return Guard(expected_status, expected_assignee, when)


def invalid(row: int, raw_id: str, message: str, cells: list[str],
            action: str = "", value: str = "") -> Result:
    return Result(row=row, conversation_id=raw_id, action=action, value=value,
                  outcome=Outcome.INVALID, error=message, cells=cells)
