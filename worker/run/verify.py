"""`verify`: read back the conversations a report says were changed, and compare.

For each conversation, the expectation is the value of its last `ok` row per field (a
status row and an assignment row are checked separately). The reads go through the
same engine as a run: paced, retried, 429s waited out, the key never leaving the base
URL. A difference means someone changed the conversation since, or the change did not
hold.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

from worker.config import Settings
from worker.core.conversation import read_state
from worker.core.errors import PermanentError
from worker.core.operations import Action, Operation
from worker.core.outcomes import Outcome, Result
from worker.partoo.client import PartooClient, open_session
from worker.partoo.preflight import check_reachable
from worker.report.reader import open_report
from worker.sending.aimd import Aimd
from worker.sending.breaker import Breaker
from worker.sending.engine import Engine
from worker.sending.ratelimit import RateLimiter
from worker.sending.retrypolicy import RetryPolicy

__all__ = ["Expected", "Verdict", "expectations", "verify"]


class Mismatch(PermanentError):
    """The conversation does not hold what the report says was set (read with a 200)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, http_status=200)


@dataclass(slots=True)
class Expected:
    status: str | None = None  # "open" / "closed", from the last ok status row
    status_row: int = 0
    assignee: str | None = None  # a user id or "unassigned", from the last ok assign row
    assignee_row: int = 0


@dataclass
class Verdict:
    aborted: str | None = None  # why the reads stopped (401, API down), if they did
    checked: int = 0
    differences: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def expectations(report: Path) -> dict[int, Expected]:
    """Per conversation, the value of its last ok row per field. Raises `ReportError`."""
    expected: dict[int, Expected] = {}
    for line in open_report(report).rows():
        if line.outcome is not Outcome.OK:
            continue
        exp = expected.setdefault(int(line.conversation_id), Expected())
        if line.action in (Action.CLOSE, Action.OPEN):
            exp.status = "closed" if line.action == Action.CLOSE else "open"
            exp.status_row = line.row
        elif line.action in (Action.ASSIGN, Action.UNASSIGN):
            exp.assignee = line.value if line.action == Action.ASSIGN else "unassigned"
            exp.assignee_row = line.row
    return expected


def verify(expected: dict[int, Expected], settings: Settings, *, sample: int | None = None,
           seed: int = 0) -> Verdict:
    ids = sorted(expected)
    if sample is not None and sample < len(ids):
        ids = sorted(random.Random(seed).sample(ids, sample))
    asyncio.run(check_reachable(settings.base_url, settings.request_timeout_s))
    return asyncio.run(_check(ids, expected, settings))


async def _check(ids: list[int], expected: dict[int, Expected], s: Settings) -> Verdict:
    assert s.api_key is not None
    verdict = Verdict()
    limiter = RateLimiter(s.rate_per_minute, s.burst)
    policy = RetryPolicy(max_attempts=s.max_attempts, max_retry_after_s=s.max_retry_after_s,
                         rate_limit_budget_s=s.rate_limit_budget_s,
                         backoff_base_s=s.backoff_base_s, backoff_max_s=s.backoff_max_s)
    async with open_session(s.concurrency, s.request_timeout_s) as session:
        client = PartooClient(session, s.base_url, s.api_key, s.request_timeout_s)

        async def check(op: Operation) -> object:
            prior = read_state(await client.get(f"/conversations/{op.conversation_id}"))
            exp = expected[op.conversation_id]
            found_status = "closed" if prior.is_solved else "open"
            found_assignee = prior.assignee or "unassigned"
            differ = []
            if exp.status is not None and exp.status != found_status:
                differ.append(f"row {exp.status_row}: status: expected {exp.status}, "
                              f"found {found_status}")
            if exp.assignee is not None and exp.assignee != found_assignee:
                differ.append(f"row {exp.assignee_row}: assignee: expected "
                              f"{exp.assignee}, found {found_assignee}")
            if differ:
                raise Mismatch("; ".join(differ))
            return 200

        def collect(result: Result) -> None:
            if result.outcome is Outcome.SKIPPED:
                return  # not read: the run was stopped, and says why once
            verdict.checked += 1
            if result.outcome is Outcome.OK:
                return
            where = f"conversation {result.conversation_id}"
            if result.http_status == 200:  # read fine, and it differs
                verdict.differences.append(f"{where}, {result.error}")
            else:
                verdict.unreadable.append(f"{where}: could not read it: {result.error}")

        engine = Engine(check, limiter, policy, concurrency=s.concurrency,
                        aimd=Aimd(limiter), method="GET",
                        breaker=Breaker(s.failure_window, s.failure_threshold))
        ops = (Operation(row=i, conversation_id=cid, action=Action.CLOSE)
               for i, cid in enumerate(ids, start=1))
        await engine.run(ops, collect)
    verdict.aborted = engine.stop_reason
    return verdict
