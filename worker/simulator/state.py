"""Server-side truth of the simulated Partoo API, and the rules that change it.

Pure: no aiohttp, no clock, no I/O. The HTTP layer (`handlers.py`) only translates
requests into calls on `SimState`, so tests can also drive the rules directly.

Order of checks for a PATCH, as a Flask + webargs server would do them: the body is
validated first (400), then the conversation is looked up (404), then the action's own
rules apply (400 expired / bad user, 403 no access).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from .listing import conversation_json, decode_cursor, encode_cursor, page
from .model import Conversation, User
from .requestlog import RequestLog, RequestRecord

__all__ = [
    "ALICE", "BOB", "BOT_USER", "BUSINESSES", "BUSINESS_A", "BUSINESS_B", "BUSINESS_C",
    "CAROL", "FORBIDDEN", "INACTIVE_USER", "LONG_ID_USER", "NOT_FOUND", "RESTRICTED_USER",
    "ApiError", "Conversation", "RequestRecord", "SimState", "User", "seeded_state",
]

# Well-known ids, so tests and demo jobs can name them.
ALICE = "62d80fae74e8b11d700302b8"
BOB = "62d80fae74e8b11d700302b9"
CAROL = "63a1c2d3e4f5a6b7c8d9e0f1"
BOT_USER = "5f1a2b3c4d5e6f708192a3b4"
INACTIVE_USER = "5f1a2b3c4d5e6f708192dead"
RESTRICTED_USER = "5f1a2b3c4d5e6f708192cafe"  # sees BUSINESS_A only
LONG_ID_USER = "62d80fae74e8b11d700302b8a"  # 25 chars, like one of Partoo's own examples
BUSINESS_A, BUSINESS_B, BUSINESS_C = "4101", "4102", "4103"
BUSINESSES = {BUSINESS_A: "Boulangerie Bastille", BUSINESS_B: "Boulangerie Croix-Rousse",
              BUSINESS_C: "Boulangerie Vieux-Nice"}

NOT_FOUND = {"error": {"json": "Resource not found"}}
FORBIDDEN = {"errors": {"authorization": "Operation not allowed"}}
_FIELDS = frozenset({"status", "assigned_user_id"})


class ApiError(Exception):
    """An answer other than 200: HTTP status plus the JSON body Partoo would send."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def _bad(fields: dict[str, Any]) -> ApiError:
    return ApiError(400, {"error": {"json": fields}})


class SimState:
    """Conversations, users and the request log of one simulated organization."""

    def __init__(
        self,
        conversations: Iterable[Conversation] = (),
        users: Iterable[User] = (),
        businesses: dict[str, str] | None = None,
        *,
        record: bool = True,
    ) -> None:
        self.conversations: dict[int, Conversation] = {c.id: c for c in conversations}
        self.users: dict[str, User] = {u.id: u for u in users}
        self.businesses: dict[str, str] = dict(BUSINESSES if businesses is None else businesses)
        self.log = RequestLog(record=record)
        self._order: list[int] = []  # sorted ids, rebuilt when the number of conversations changes

    def apply_patch(self, conversation_id: int, body: object) -> tuple[int, dict[str, Any]]:
        """Apply one PATCH body; return (status, JSON body). Only a 200 changes state."""
        try:
            field, value = _parse_patch(body)
            conv = self._find(conversation_id)
            if field == "status":
                if value == "open" and conv.is_expired:
                    raise _bad({"status": ["conversation is expired and cannot be re-opened"]})
                conv.is_solved = value == "closed"
            else:
                conv.assigned_user_id = self._assignee(conv, value)
        except ApiError as exc:
            return exc.status, exc.body
        return 200, {"status": "success"}

    def get_conversation(self, conversation_id: int) -> dict[str, Any]:
        """One conversation as the API shows it; raises ApiError(404) if unknown."""
        return self.conversation_json(self._find(conversation_id))

    def list_conversations(
        self, business_in: set[str] | None = None, per_page: int = 30, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page, ordered by id; `count` is every match, not just this page's.

        Raises ApiError(400) for `per_page` outside 1..100 or a cursor we did not issue.
        """
        if not 1 <= per_page <= 100:
            raise _bad({"per_page": ["Must be greater than or equal to 1 and less than or "
                                     "equal to 100."]})
        after_id = 0 if cursor is None else decode_cursor(cursor)
        if after_id is None:
            raise _bad({"cursor": ["Invalid cursor."]})
        found, more, count = page(
            self._sorted_ids(), self.conversations, business_in, per_page, after_id)
        return {
            "conversations": [self.conversation_json(c) for c in found],
            "count": count,
            "next_cursor": encode_cursor(found[-1].id) if more else None,
        }

    def conversation_json(self, conv: Conversation) -> dict[str, Any]:
        return conversation_json(conv, self.businesses.get(conv.business_id))

    def all_conversations_json(self) -> list[dict[str, Any]]:
        return [self.conversation_json(self.conversations[i]) for i in self._sorted_ids()]

    def _find(self, conversation_id: int) -> Conversation:
        conv = self.conversations.get(conversation_id)
        if conv is None:
            raise ApiError(404, NOT_FOUND)
        return conv

    def _assignee(self, conv: Conversation, value: str) -> str | None:
        if value == "unassigned":
            return None
        user = self.users.get(value)
        if user is None:
            raise _bad({"assigned_user_id": ["User not found."]})
        if not user.active:
            raise _bad({"assigned_user_id": ["User is not active."]})
        if not user.human:
            raise _bad({"assigned_user_id": ["A bot cannot be assigned to a conversation."]})
        if user.businesses is not None and conv.business_id not in user.businesses:
            raise ApiError(403, FORBIDDEN)
        return user.id

    def _sorted_ids(self) -> list[int]:
        if len(self._order) != len(self.conversations):
            self._order = sorted(self.conversations)
        return self._order


def _parse_patch(body: object) -> tuple[str, Any]:
    if not isinstance(body, dict):
        raise _bad({"_schema": ["Invalid input type."]})
    unknown = sorted(body.keys() - _FIELDS)
    if unknown:
        raise _bad({k: ["Unknown field."] for k in unknown})
    if len(body) != 1:
        raise _bad({"_schema": ["Exactly one of status or assigned_user_id must be given."]})
    ((field, value),) = body.items()
    if field == "status" and value not in ("open", "closed"):
        raise _bad({"status": ["Must be one of: open, closed."]})
    if field == "assigned_user_id" and (not isinstance(value, str) or not value):
        raise _bad({"assigned_user_id": ["Not a valid string."]})
    return field, value


def seeded_state(n_conversations: int = 1000, seed: int = 0, *, record: bool = True) -> SimState:
    """A deterministic organization: the same arguments always give the same data.

    Fixed by id, so tests can rely on them: conversation ids are 1..n; conversation i
    belongs to `[BUSINESS_A, BUSINESS_B, BUSINESS_C][(i - 1) % 3]`; every 10th is
    expired. Drawn from `seed`: is_solved (about a quarter), the assignee (None, ALICE,
    BOB or CAROL), created_at and last_message (about a third have none).
    """
    rng = random.Random(seed)
    business_ids = list(BUSINESSES)
    start = datetime(2023, 1, 2, 8, 0, tzinfo=UTC)
    conversations = []
    for i in range(1, n_conversations + 1):
        created = start + timedelta(minutes=7 * i, microseconds=rng.randrange(1, 1_000_000))
        last = None
        if rng.random() >= 1 / 3:
            last = created + timedelta(seconds=rng.randrange(60, 30 * 86400))
        conversations.append(Conversation(
            id=i,
            business_id=business_ids[(i - 1) % len(business_ids)],
            is_solved=rng.random() < 0.25,
            is_expired=i % 10 == 0,
            assigned_user_id=rng.choice((None, ALICE, BOB, CAROL)),
            created_at=created,
            last_message_date=last,
        ))
    users = [
        User(ALICE), User(BOB), User(CAROL), User(LONG_ID_USER),
        User(BOT_USER, human=False),
        User(INACTIVE_USER, active=False),
        User(RESTRICTED_USER, businesses=frozenset({BUSINESS_A})),
    ]
    return SimState(conversations, users, record=record)
