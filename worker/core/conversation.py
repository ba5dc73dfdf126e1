"""A conversation's state, as `GET /conversations/{id}` (or a list page) tells it: one type
and one reader, for the undo capture, the read-back, `verify` and `select`.

Partoo writes the state in two ways, and both are read the same everywhere:
- `is_solved` (bool) is open/closed; `is_expired` (bool) says a closed conversation can no
  longer be re-opened. Without `is_expired`, `status` says it: "Closed" (any case) means
  expired, "Open" not.
- `assigned_user_id` is a user id, or null, "" or "unassigned" for nobody: all three are
  `assignee=None`, so an unassigned conversation never reads as assigned to a user
  called "unassigned".

An answer is only a conversation's state if it says it is that conversation's: its `id`
must be the id asked for (`read_state`). A cache or proxy that answers one conversation
for another would otherwise decide a guard, fill the undo job and pass a read-back with
another conversation's state. Partoo always sends `id` (an integer; a string of its
digits is taken too), so an answer without one is not Partoo's either: both are a failed
read (`Unexpected`, never retried, counted by the circuit breaker), never a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.core.errors import Unexpected
from worker.core.text import printable

__all__ = ["ConversationState", "assignee_of", "expired_of", "iso_utc", "parse_date",
           "read_state"]


@dataclass(frozen=True, slots=True)
class ConversationState:
    is_solved: bool
    is_expired: bool
    assignee: str | None  # None: nobody
    # The last message's date (None: no message yet). `last_message_known` is False when
    # the answer has no readable `last_message`: a guard on it cannot tell, and says so.
    last_message_at: datetime | None = None
    last_message_known: bool = True

    @property
    def status(self) -> str:
        """The status field as a job file writes it."""
        return "closed" if self.is_solved else "open"

    @property
    def assigned(self) -> str:
        """The assignee field as a job file writes it."""
        return self.assignee or "unassigned"


def read_state(data: Any, *, conversation_id: int) -> ConversationState:
    """The state of conversation `conversation_id` from the answer to its GET
    (`{"conversation": {...}}` or the object itself).

    Raises `Unexpected` when the answer has no boolean `is_solved`, or is not this
    conversation's (its `id` another, or none): it is not Partoo's answer to this GET.
    """
    conv = data.get("conversation", data) if isinstance(data, dict) else None
    if not isinstance(conv, dict) or not isinstance(conv.get("is_solved"), bool):
        raise Unexpected("the conversation's answer has no is_solved: cannot read its "
                         "state; check PARTOO_BASE_URL", http_status=200)
    _check_id(conv, conversation_id)
    last = conv.get("last_message", _ABSENT)
    last_at = parse_date(last.get("date")) if isinstance(last, dict) else None
    known = last is None or last_at is not None
    return ConversationState(conv["is_solved"], bool(expired_of(conv)),
                             assignee_of(conv.get("assigned_user_id")), last_at, known)


_ABSENT = object()
_ID_SHOWN = 40  # characters of a wrong id quoted: enough to recognise, not a page


def _check_id(conv: dict[str, Any], conversation_id: int) -> None:
    """`Unexpected` unless the answer names `conversation_id` as its `id`."""
    check = ("check PARTOO_BASE_URL and the proxy (a cache or gateway answering one "
             "conversation for another?); nothing was decided on it")
    if "id" not in conv:
        raise Unexpected(f"GET /conversations/{conversation_id} answered a conversation "
                         "without an id (Partoo always sends it): not Partoo's answer; "
                         f"{check}", http_status=200)
    raw = conv["id"]
    same = (isinstance(raw, int) and not isinstance(raw, bool) and raw == conversation_id) \
        or (isinstance(raw, str) and raw.strip() == str(conversation_id))
    if not same:
        shown = repr(raw)
        shown = shown if len(shown) <= _ID_SHOWN else shown[:_ID_SHOWN] + "…"
        raise Unexpected(f"GET /conversations/{conversation_id} answered conversation "
                         f"{printable(shown)} instead: another conversation's state, not "
                         f"this one's; {check}", http_status=200)


def parse_date(value: Any) -> datetime | None:
    """Partoo's `2023-01-31 16:22:17.327878+00:00` (or any ISO-8601 form) as aware UTC.

    A date without an offset is taken as UTC. None when it is not a readable date, one
    that is not in the years 1 to 9999 in UTC included (`0001-01-01T00:00+01:00`,
    `9999-12-31T23:59:59-05:00`: Python has no datetime for them, and a server's such
    date is unreadable as any other, never a crash).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def iso_utc(value: datetime) -> str:
    """A moment as a job file's guard and a message write it: 2026-12-02T02:14:00Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
