"""The simulated organization's records: conversations and users, plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Conversation", "User"]


@dataclass(slots=True)
class Conversation:
    id: int
    business_id: str
    is_solved: bool
    is_expired: bool
    assigned_user_id: str | None
    created_at: datetime
    last_message_date: datetime | None = None


@dataclass(slots=True, frozen=True)
class User:
    id: str
    active: bool = True
    human: bool = True
    businesses: frozenset[str] | None = None  # None: access to every business
