"""Settings in, the sending stack out: built in one place for `run`, `verify` and `select`.

Each command gets the same pacing (one `RateLimiter` with its adaptive rate, one
concurrency gate whose cap is `concurrency`), the same retry rules, the same request
path (`Pacing.requester`: which rules watch it is the command's only choice) and the
same client for a given `Settings`; none of them assembles its own. The way to the API
(a proxy, extra CAs) is the settings' too (`worker.config.network`). The client's
connection pool holds as many connections as the gate's cap: a row never queues for one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from worker.config import Settings, ca_files, proxy_for
from worker.partoo.client import PartooClient, open_session
from worker.sending.aimd import Aimd
from worker.sending.concurrency import Concurrency, spare_for
from worker.sending.control import RunControl
from worker.sending.ratelimit import RateLimiter
from worker.sending.requester import Requester, Watcher
from worker.sending.retrypolicy import RetryPolicy
from worker.sending.watchers import Breaker, NoProgress, SameRefusals

__all__ = ["Pacing", "open_client", "pacing"]


@dataclass(frozen=True, slots=True)
class Pacing:
    """What paces and guards every request of one command, shared by all its rows."""

    limiter: RateLimiter
    aimd: Aimd
    policy: RetryPolicy
    breaker: Breaker
    refusals: SameRefusals
    concurrency: Concurrency  # the engine's gate, told by each row when it is busy
    stall: NoProgress  # stops the command when no request went through for long

    def requester(self, control: RunControl, *,
                  items: Literal["rows", "reads", "pages"] = "rows") -> Requester:
        """The request path of one command, watched by the rules its items need: a job's
        `rows`, every rule; `verify`'s `reads`, all but the refusal rule (a read refused
        says something of that conversation, not of a job); `select`'s `pages`, paced
        only (a listing is one sequence: its own errors end it)."""
        watchers: tuple[Watcher, ...] = (self.aimd,)
        if items == "rows":
            watchers += (self.refusals,)
        if items != "pages":
            watchers += (self.breaker, self.stall)
        return Requester(self.limiter, self.policy, control, watchers=watchers,
                         concurrency=None if items == "pages" else self.concurrency)


def pacing(s: Settings, *, limiter: RateLimiter | None = None) -> Pacing:
    """A command's pacing. `limiter`: the one its run already paces with (the parts of a
    canary run share one meter and its adaptive rate; the rest is each part's own: a
    long question between the parts is no stall, and its breaker starts afresh)."""
    limiter = limiter or RateLimiter(s.rate_per_minute, s.burst)
    policy = RetryPolicy(max_attempts=s.max_attempts, max_retry_after_s=s.max_retry_after_s,
                         rate_limit_budget_s=s.rate_limit_budget_s,
                         backoff_base_s=s.backoff_base_s, backoff_max_s=s.backoff_max_s)
    gate = Concurrency(s.concurrency, spare=spare_for(s.rate_per_minute / 60))
    return Pacing(limiter, Aimd(limiter), policy,
                  Breaker(s.failure_window, s.failure_threshold),
                  SameRefusals(s.same_refusal_rows), gate,
                  NoProgress(s.no_progress_timeout_s))


@asynccontextmanager
async def open_client(s: Settings, *, connections: int | None = None,
                      ) -> AsyncIterator[PartooClient]:
    """One session and client for the command; `connections` defaults to the
    concurrency cap (the most rows the gate lets out at once)."""
    assert s.api_key is not None  # checked by the command before anything starts
    proxy = proxy_for(s)
    tls = "https" in (urlsplit(s.base_url).scheme,
                      "" if proxy is None else urlsplit(proxy.url).scheme)
    async with open_session(connections or s.concurrency, s.request_timeout_s,
                            ca_files=ca_files(s) if tls else (), tls=tls) as session:
        yield PartooClient(session, s.base_url, s.api_key, s.request_timeout_s,
                           proxy=proxy)
