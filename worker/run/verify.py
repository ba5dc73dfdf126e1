"""`verify`: read back the conversations a report says were changed, and compare.

For each conversation, the expectation is the value of its last `ok` row per field (a
status row and an assignment row are checked separately). The reads go through the
same engine as a run: paced, retried, 429s waited out, the key never leaving the base
URL. A difference means someone changed the conversation since, or the change did not
hold.

A `changed` row (its guard no longer held: `worker.core.guards`) was not sent, so
nothing is expected of it: it is no difference, only counted (`changed_rows`). An `ok`
row that needed nothing (already in its target state) is checked like any `ok` row.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

from worker.config import Settings, ca_files, proxy_for
from worker.core.conversation import ConversationState
from worker.core.errors import RequestError
from worker.core.operations import Field, parse_conversation_id
from worker.core.outcomes import Outcome, Result
from worker.core.stops import Stop
from worker.partoo.client import PartooClient
from worker.partoo.preflight import check_reachable
from worker.report.reader import last_ok, open_report
from worker.sending.control import RunControl
from worker.sending.engine import Engine
from worker.sending.ratelimit import RateLimiter
from worker.sending.requester import Interrupted, Requester, Step
from worker.sending.retrypolicy import Tally
from worker.sending.stack import open_client, pacing

__all__ = ["Difference", "Expected", "Findings", "Unreadable", "changed_rows", "expectations",
           "verify"]


@dataclass(frozen=True, slots=True)
class Difference:
    """One field of a conversation that does not hold the value its last ok row set."""

    conversation_id: int
    row: int
    field: str  # "status" or "assignee"
    expected: str
    found: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: expected {self.expected}, found {self.found}"


@dataclass(frozen=True, slots=True)
class Unreadable:
    conversation_id: int
    error: str

    def __str__(self) -> str:
        return f"conversation {self.conversation_id}: could not read it: {self.error}"


@dataclass(slots=True)
class Expected:
    status: str | None = None  # "open" / "closed", from the last ok status row
    status_row: int = 0
    assignee: str | None = None  # a user id or "unassigned", from the last ok assign row
    assignee_row: int = 0

    def differences(self, cid: int, found: ConversationState) -> list[Difference]:
        differ = []
        if self.status is not None and self.status != found.status:
            differ.append(Difference(cid, self.status_row, "status", self.status,
                                     found.status))
        if self.assignee is not None and self.assignee != found.assigned:
            differ.append(Difference(cid, self.assignee_row, "assignee", self.assignee,
                                     found.assigned))
        return differ


@dataclass
class Findings:
    """What `verify` found: how many were read, which differ, which could not be read."""

    aborted: str | None = None  # why the reads stopped (401, API down), if they did
    stop: Stop | None = None  # the same, for its exit code
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)  # in row order
    unreadable: list[Unreadable] = field(default_factory=list)
    read: set[int] = field(default_factory=set)  # conversations read back (or tried)

    def lines(self) -> list[str]:
        """One line per conversation that differs, then per one that could not be read."""
        by_conversation: dict[int, list[Difference]] = {}
        for difference in self.differences:
            by_conversation.setdefault(difference.conversation_id, []).append(difference)
        return [f"conversation {cid}, " + "; ".join(map(str, found))
                for cid, found in by_conversation.items()] + [str(u) for u in self.unreadable]

    def holds(self, conversation_id: int) -> bool:
        """Read, and as expected (False when it was not read at all)."""
        return conversation_id in self.read and not any(
            d.conversation_id == conversation_id for d in self.differences) and not any(
            u.conversation_id == conversation_id for u in self.unreadable)


def expectations(report: Path, only: set[int] | None = None) -> dict[int, Expected]:
    """Per conversation (of `only`, if given), the value of its last ok row per field.
    Raises `ReportError`."""
    expected: dict[int, Expected] = {}
    for (cid, fld), ok in last_ok(open_report(report).rows()).items():
        if only is not None and cid not in only:
            continue
        exp = expected.setdefault(cid, Expected())
        if fld is Field.STATUS:
            exp.status, exp.status_row = ok.target, ok.row
        else:
            exp.assignee, exp.assignee_row = ok.target, ok.row
    return expected


def changed_rows(report: Path) -> int:
    """Rows of the report that were not sent because their conversation had changed since
    the job was made: verify expects nothing of them. Raises `ReportError`."""
    return sum(row.outcome is Outcome.CHANGED for row in open_report(report).rows())


def verify(expected: dict[int, Expected], settings: Settings, *, sample: int | None = None,
           seed: int = 0, limiter: RateLimiter | None = None) -> Findings:
    """`limiter`: the meter of the run these reads are part of (a canary's read-back)."""
    ids = sorted(expected)
    if sample is not None and sample < len(ids):
        ids = sorted(random.Random(seed).sample(ids, sample))
    asyncio.run(check_reachable(settings.base_url, settings.request_timeout_s,
                                proxy=proxy_for(settings), ca_files=ca_files(settings)))
    return asyncio.run(_check(ids, expected, settings, limiter))


@dataclass(frozen=True, slots=True)
class _Check:
    """One conversation to read: the engine's item for `verify`."""

    row: int
    conversation_id: int
    expected: Expected


class _Reader:
    """`verify`'s work for one conversation: one paced, retried GET, then the comparison."""

    def __init__(self, client: PartooClient, requests: Requester, findings: Findings) -> None:
        self._client = client
        self._requests = requests
        self._findings = findings
        self._differ: dict[int, list[Difference]] = {}  # row -> what differs (any order)

    async def _read(self, check: _Check) -> ConversationState:
        return await self._client.read_conversation(check.conversation_id)

    async def run(self, check: _Check, tally: Tally) -> Result:
        try:
            found = await self._requests.request(check, tally, Step.READ, self._read)
        except Interrupted:
            return self.skipped(check, tally, "interrupted")
        except RequestError as exc:
            self._requests.finished(exc)
            return self._result(check, Outcome.FAILED, exc.message, exc.http_status)
        self._requests.finished(None)
        differ = check.expected.differences(check.conversation_id, found)
        if differ:
            self._differ[check.row] = differ
        return self._result(check, Outcome.OK, "", 200)

    def skipped(self, check: _Check, tally: Tally, reason: str, *,
                in_flight: bool = False) -> Result:
        return self._result(check, Outcome.SKIPPED, reason, None)

    def _result(self, check: _Check, outcome: Outcome, error: str,
                status: int | None) -> Result:
        return Result(row=check.row, conversation_id=str(check.conversation_id),
                      action="read", value="", outcome=outcome, http_status=status,
                      error=error)

    def collect(self, result: Result) -> None:
        """In row order: count what was read, and what differs or could not be read."""
        if result.outcome is Outcome.SKIPPED:
            return  # not read: the run was stopped, and says why once
        self._findings.checked += 1
        cid = parse_conversation_id(result.conversation_id)
        self._findings.read.add(cid)
        if result.outcome is Outcome.FAILED:
            self._findings.unreadable.append(Unreadable(cid, result.error))
        elif result.row in self._differ:
            self._findings.differences.extend(self._differ.pop(result.row))


async def _check(ids: list[int], expected: dict[int, Expected], s: Settings,
                 limiter: RateLimiter | None) -> Findings:
    findings = Findings()
    guard = pacing(s, limiter=limiter)
    control = RunControl()
    async with open_client(s) as client:
        requests = guard.requester(control, items="reads")
        reader = _Reader(client, requests, findings)
        engine = Engine(reader, control, concurrency=guard.concurrency)
        checks = (_Check(i, cid, expected[cid]) for i, cid in enumerate(ids, start=1))
        await engine.run(checks, reader.collect)
    findings.stop = control.stop
    findings.aborted = None if control.stop is None else control.stop.detail
    return findings
