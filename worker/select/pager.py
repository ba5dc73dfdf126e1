"""Walk `GET /conversations` page by page, paced and retried the way `run` sends PATCHes.

`Lister.pages()` yields each page's `conversations` list once, in order, and holds no
more than one page. Each page request:
- waits for a permit from the shared `RateLimiter` (the listing spends the same
  per-organization quota as a run);
- on a 429, pauses the limiter for the bounded Retry-After (`RetryPolicy.pause_for`) and
  asks for the same cursor again: a page is never skipped nor fetched into the output
  twice; 429s do not use up attempts, only the page's `rate_limit_budget_s`;
- on a transient error (5xx, timeout, reset), retries with the policy's backoff, up to
  `max_attempts` requests;
- raises the last `RequestError` when it gives up (401 and other refusals at once).

Pages go one after another: cursor pagination is sequential by nature. No AIMD here: a
single caller never queues on the meter, so AIMD would only ever cut the rate; the
shared pause after a 429 is the feedback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from worker.core.errors import RateLimited, Unexpected
from worker.sending.ratelimit import RateLimiter
from worker.sending.retrypolicy import RetryPolicy
from worker.sending.tally import Tally

__all__ = ["MAX_PER_PAGE", "Lister", "ListingStats"]

MAX_PER_PAGE = 100  # the API's maximum: the fewest requests for a given listing
Get = Callable[[str, dict[str, str]], Awaitable[dict[str, Any]]]


@dataclass(slots=True)
class ListingStats:
    pages: int = 0
    requests: int = 0
    throttled: int = 0
    retries: int = 0  # requests beyond each page's first, 429s not counted
    count: int | None = None  # the API's own total of matches, when it says one


class Lister:
    def __init__(self, get: Get, limiter: RateLimiter, policy: RetryPolicy, *,
                 per_page: int = MAX_PER_PAGE, businesses: tuple[str, ...] = ()) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be in 1..{MAX_PER_PAGE}")
        self._get = get
        self._limiter = limiter
        self._policy = policy
        self._params = {"per_page": str(per_page)}
        if businesses:
            # Filtered by the API too, so unwanted businesses do not cost pages.
            self._params["business__in"] = ",".join(businesses)
        self.stats = ListingStats()

    async def pages(self) -> AsyncIterator[list[Any]]:
        cursor: str | None = None
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
            if next_cursor == cursor:
                raise Unexpected(f"page {self.stats.pages} gave back the cursor that asked "
                                 "for it: the listing would never end")
            cursor = next_cursor

    async def _fetch(self, params: dict[str, str]) -> dict[str, Any]:
        tally = Tally()
        answer: dict[str, Any] = {}
        try:
            async for attempt in self._policy.retrying(tally):
                with attempt:
                    answer = await self._attempt(params, tally)
        finally:
            self.stats.retries += max(0, tally.failures - 1)
        return answer

    async def _attempt(self, params: dict[str, str], tally: Tally) -> dict[str, Any]:
        await self._limiter.acquire()
        tally.requests += 1
        self.stats.requests += 1
        try:
            return await self._get("/conversations", params)
        except RateLimited as exc:
            pause = self._policy.pause_for(exc.retry_after_s)
            tally.throttled += 1
            tally.throttled_wait_s += pause
            self.stats.throttled += 1
            self._limiter.pause(pause)
            raise


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
