"""Walk `GET /conversations` page by page, paced and retried the way `run` sends PATCHes.

`Lister.pages()` yields each page's `conversations` list once, in order, and holds no
more than one page. Each page request goes through the one request path
(`worker.sending.requester.Requester`) every request of a run takes: a permit from the
`RateLimiter` (the listing spends the same per-organization quota as a run);
on a 429, one pause for every sender and a signal to the adaptive rate, then the same
cursor again (a page is never skipped nor fetched into the output twice; 429s do not use
up attempts, only the page's `rate_limit_budget_s`); on a transient error (5xx, timeout,
reset), the policy's backoff, up to `max_attempts` requests. The last `RequestError` is
raised when it gives up (401 and other refusals at once), `Interrupted` when the run is
stopping.

Pages go one after another: cursor pagination is sequential by nature.

A listing that would never end stops with `Unexpected` (nothing is written): a cursor
given back that was used before (A -> B -> A), or `_IDLE_PAGES` pages in a row that
bring no conversation not seen on the pages just before (an empty page with a next
cursor, the same page under new cursors). It would otherwise list on the
organization's quota forever.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from worker.core.errors import Unexpected
from worker.sending.requester import Requester, Step
from worker.sending.retrypolicy import Tally

__all__ = ["MAX_PER_PAGE", "Lister", "ListingStats"]

MAX_PER_PAGE = 100  # the API's maximum: the fewest requests for a given listing
_IDLE_PAGES = 5  # pages in a row with nothing new: a listing going round, not one ending
_RECENT_PAGES = 10  # pages whose ids a new page is compared with (bounded memory)
Get = Callable[[str, dict[str, str]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class _Page:
    """A page request, for the request log: its number, no conversation."""

    row: int
    conversation_id: None = None


@dataclass(slots=True)
class ListingStats:
    pages: int = 0
    requests: int = 0
    throttled: int = 0
    retries: int = 0  # requests beyond each page's first, 429s not counted
    count: int | None = None  # the API's own total of matches, when it says one


class Lister:
    def __init__(self, get: Get, requests: Requester, *, per_page: int = MAX_PER_PAGE,
                 businesses: tuple[str, ...] = ()) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be in 1..{MAX_PER_PAGE}")
        self._get = get
        self._requests = requests
        self._params = {"per_page": str(per_page)}
        if businesses:
            # Filtered by the API too, so unwanted businesses do not cost pages.
            self._params["business__in"] = ",".join(businesses)
        self.stats = ListingStats()

    async def pages(self) -> AsyncIterator[list[Any]]:
        cursor: str | None = None
        endless = _Endless()
        while True:
            params = dict(self._params) if cursor is None else {**self._params, "cursor": cursor}
            answer = await self._fetch(params)
            conversations, next_cursor = _read_page(answer, self.stats.pages + 1)
            self.stats.pages += 1
            if isinstance(answer.get("count"), int) and not isinstance(answer["count"], bool):
                self.stats.count = answer["count"]
            yield conversations
            if next_cursor is None:
                return
            endless.check(self.stats.pages, next_cursor, conversations)
            cursor = next_cursor

    async def _fetch(self, params: dict[str, str]) -> dict[str, Any]:
        tally = Tally()
        try:
            answer: dict[str, Any] = await self._requests.request(
                _Page(self.stats.pages + 1), tally, Step.READ, lambda _: self._get(
                    "/conversations", params))
        finally:
            self.stats.requests += tally.requests
            self.stats.throttled += tally.throttled
            self.stats.retries += max(0, tally.requests - tally.throttled - 1)
        return answer


class _Endless:
    """Tells a listing that goes round from one that ends (see the module docstring)."""

    def __init__(self) -> None:
        self._cursors: dict[str, int] = {}  # cursor -> the page it was given on
        self._recent: deque[set[object]] = deque(maxlen=_RECENT_PAGES)
        self._idle = 0

    def check(self, page: int, cursor: str, conversations: list[Any]) -> None:
        """Raise `Unexpected` if the listing, now at `page` with `cursor` next, loops."""
        earlier = self._cursors.setdefault(cursor, page)
        if earlier != page:
            again = ("the cursor that asked for it" if earlier == page - 1 else
                     f"a cursor it already gave on page {earlier}")
            raise Unexpected(f"page {page} gave back {again} (the cursors go round in a "
                             "loop): the listing would never end; stopped")
        ids = {c.get("id") for c in conversations if isinstance(c, dict)}
        # An item without an id cannot be told apart: it counts as new, not as a repeat.
        new = ids - set().union(*self._recent) or None in ids or len(ids) < len(conversations)
        self._recent.append(ids)
        self._idle = 0 if new else self._idle + 1
        if self._idle >= _IDLE_PAGES:
            raise Unexpected(f"pages {page - _IDLE_PAGES + 1} to {page} brought no "
                             "conversation that was not listed before, each with a next "
                             "cursor: the listing goes round and would never end; stopped")


def _read_page(answer: dict[str, Any], number: int) -> tuple[list[Any], str | None]:
    """The page's conversations and next cursor. Anything else in it is ignored."""
    conversations = answer.get("conversations")
    if not isinstance(conversations, list):
        raise Unexpected(f"page {number} has no 'conversations' list (keys: "
                         f"{', '.join(sorted(map(str, answer))) or 'none'}): "
                         "check PARTOO_BASE_URL")
    if "next_cursor" not in answer:
        # Without it we cannot tell the last page from a changed API: stop, do not guess.
        raise Unexpected(f"page {number} has no 'next_cursor': the API's pagination is not "
                         "the one documented")
    cursor = answer["next_cursor"]
    if cursor is None or cursor == "":
        return conversations, None
    if isinstance(cursor, bool) or not isinstance(cursor, str | int):
        raise Unexpected(f"page {number} has a next_cursor that is not text: {cursor!r}")
    return conversations, str(cursor)
