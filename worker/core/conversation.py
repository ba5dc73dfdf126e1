"""A conversation's state, as `GET /conversations/{id}` (or a list page) tells it: one type
and one reader, for the undo capture, the read-back, `verify` and `select`.

Partoo writes the state in two ways, and both are read the same everywhere:
- `is_solved` (bool) is open/closed; `is_expired` (bool) says a closed conversation can no
  longer be re-opened. Without `is_expired`, `status` says it: "Closed" (any case) means
  expired, "Open" not.
- `assigned_user_id` is a user id, or null, "" or "unassigned" for nobody: all three are
  `assignee=None`, so an unassigned conversation never reads as assigned to a user
  called "unassigned".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.core.errors import Unexpected

__all__ = ["ConversationState", "assignee_of", "expired_of", "read_state"]


@dataclass(frozen=True, slots=True)
class ConversationState:
    is_solved: bool
    is_expired: bool
    assignee: str | None  # None: nobody

    @property
    def status(self) -> str:
        """The status field as a job file writes it."""
        return "closed" if self.is_solved else "open"

    @property
    def assigned(self) -> str:
        """The assignee field as a job file writes it."""
        return self.assignee or "unassigned"


def read_state(data: Any) -> ConversationState:
    """The state from a GET answer (`{"conversation": {...}}` or the object itself).

    Raises `Unexpected` when the answer has no boolean `is_solved`: it is not Partoo's.
    """
    conv = data.get("conversation", data) if isinstance(data, dict) else None
    if not isinstance(conv, dict) or not isinstance(conv.get("is_solved"), bool):
        raise Unexpected("the conversation's answer has no is_solved: cannot read its "
                         "state; check PARTOO_BASE_URL", http_status=200)
    return ConversationState(conv["is_solved"], bool(expired_of(conv)),
                             assignee_of(conv.get("assigned_user_id")))


def assignee_of(value: Any) -> str | None:
    """`assigned_user_id` as a user id, or None for nobody (null, "", "unassigned")."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return None if text in ("", "unassigned") else text


def expired_of(conv: dict[str, Any]) -> bool | None:
    """`is_expired`, else what `status` says ("Closed" means expired); None if neither."""
    flag = conv.get("is_expired")
    if isinstance(flag, bool):
        return flag
    status = conv.get("status")
    if isinstance(status, str) and status.lower() in ("open", "closed"):
        return status.lower() == "closed"
    return None
