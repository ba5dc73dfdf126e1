"""How the API shows conversations: the JSON shape, pages and cursors. Pure.

Cursors are opaque to clients (base64 of the last id sent); a page holds the next
`per_page` matching conversations with an id above it, so records changing between two
pages never make a conversation appear twice.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .model import Conversation

__all__ = ["conversation_json", "decode_cursor", "encode_cursor", "format_date", "looping",
           "page"]

# Channel values include ones a client may not know: Partoo adds enum values unannounced.
_CHANNELS = ("whatsapp", "sms", "messenger", "google_business_messages", "instagram")


def format_date(value: datetime) -> str:
    """Partoo's format, with a space and microseconds: 2023-01-31 16:22:17.327878+00:00."""
    return value.isoformat(sep=" ", timespec="microseconds")


def conversation_json(conv: Conversation, business_name: str | None) -> dict[str, Any]:
    """The documented fields, plus a few extra ones that clients must tolerate."""
    last = conv.last_message_date
    return {
        "id": conv.id,
        "status": "Closed" if conv.is_expired else "Open",  # Closed means expired
        "is_solved": conv.is_solved,
        "is_expired": conv.is_expired,
        "assigned_user_id": conv.assigned_user_id,
        "created_at": format_date(conv.created_at),
        "business": {"id": conv.business_id, "name": business_name, "country": "FR"},
        "last_message": None if last is None else {
            "date": format_date(last), "content_type": "TEXT", "is_deleted": False},
        "channel": _CHANNELS[conv.id % len(_CHANNELS)],
        "consumer": {"id": 900_000 + conv.id, "first_name": None},
    }


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode()


def decode_cursor(cursor: str) -> int | None:
    """The last id sent, or None if this is not a cursor we issued."""
    try:
        prefix, _, last_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(last_id) if prefix == "after" else None
    except (binascii.Error, UnicodeError, ValueError):
        return None


def page(
    order: Sequence[int],
    conversations: Mapping[int, Conversation],
    business_in: set[str] | None,
    per_page: int,
    after_id: int,
) -> tuple[list[Conversation], bool, int]:
    """Up to `per_page` matches with id > after_id in id order, whether more follow, and
    how many match in all (`order` is every id, sorted)."""
    if business_in is None:
        count = len(order)
    else:
        count = sum(c.business_id in business_in for c in conversations.values())
    found: list[Conversation] = []
    for cid in order[bisect_right(order, after_id):]:
        conv = conversations[cid]
        if business_in is None or conv.business_id in business_in:
            if len(found) == per_page:
                return found, True, count
            found.append(conv)
    return found, False, count


def looping(first_page: dict[str, Any], cursor: str | None, mode: str) -> dict[str, Any]:
    """The first page, with the next cursor of a listing that goes round (`list_loop`):
    "cursor": A, then B, then A again; "same_page": a new cursor every time."""
    if mode == "cursor":
        following = {None: "loop-A", "loop-A": "loop-B"}.get(cursor, "loop-A")
    else:
        following = f"again-{int(cursor.rpartition('-')[2]) + 1 if cursor else 1}"
    return {**first_page, "next_cursor": following}
