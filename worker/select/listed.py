"""One conversation from the list API, read tolerantly into what `select` filters on.

Partoo adds fields and enum values without notice, so `read_conversation` reads only the
fields it needs, by name, and never validates the rest. A field that is missing or has a
shape we do not know becomes "unknown" (None), never an exception: each filter then
decides what unknown means for it, in the safe direction (a conversation whose last
activity cannot be read is never called stale).

Only an entry without a usable id is dropped here: it could not become a job row. A
usable id is one `run` sends: the one parser, `worker.core.operations.parse_conversation_id`
(an id past 2^63-1 is dropped, not written into a job that `run` would refuse);
`id_problem` says why an entry was dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.core.conversation import assignee_of, expired_of, parse_date
from worker.core.operations import parse_conversation_id

__all__ = ["Listed", "format_date", "id_problem", "parse_date", "read_conversation"]


@dataclass(frozen=True, slots=True)
class Listed:
    """What `select` knows about one listed conversation. None means "unknown"."""

    id: int
    business_id: str | None
    business_name: str | None
    is_solved: bool | None
    is_expired: bool | None
    assignee_known: bool  # False when `assigned_user_id` is absent from the answer
    assignee: str | None  # None: unassigned (only meaningful when assignee_known)
    last_activity: datetime | None  # last_message.date, else created_at (aware, UTC)


def read_conversation(raw: Any) -> Listed | None:
    """The conversation, or None when the entry has no positive integer id."""
    if not isinstance(raw, dict):
        return None
    try:
        conversation_id = parse_conversation_id(raw.get("id"))
    except ValueError:
        return None
    business = raw.get("business")
    business = business if isinstance(business, dict) else {}
    return Listed(
        id=conversation_id,
        # One webhook example has business.id as an integer; the list API, a string.
        business_id=_text(business.get("id", raw.get("business_id"))),
        business_name=_text(business.get("name")),
        is_solved=_bool(raw.get("is_solved")),
        is_expired=expired_of(raw),
        assignee_known="assigned_user_id" in raw,
        assignee=assignee_of(raw.get("assigned_user_id")),
        last_activity=_last_activity(raw),
    )


def format_date(value: datetime) -> str:
    """The job file's form of a date: Partoo's own layout, to the second, in UTC."""
    return value.astimezone(UTC).isoformat(sep=" ", timespec="seconds")


def _last_activity(raw: dict[str, Any]) -> datetime | None:
    last = raw.get("last_message")
    if last is None:
        # No message yet (or the list page leaves it out): the conversation's own age.
        return parse_date(raw.get("created_at"))
    if isinstance(last, dict):
        # A message whose date we cannot read is not "no message": unknown, not stale.
        return parse_date(last.get("date"))
    return None


def id_problem(raw: Any) -> str | None:
    """Why a listed entry cannot become a job row (no usable id); None when it can."""
    if not isinstance(raw, dict):
        return "an entry that is not an object"
    if "id" not in raw:
        return "an entry without an id"
    try:
        parse_conversation_id(raw["id"])
    except ValueError as exc:
        return str(exc)
    return None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None
