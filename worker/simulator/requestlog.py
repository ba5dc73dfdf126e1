"""What the simulated server saw and answered, one record per `/v2` request.

The log is the server-side truth tests assert on ("conversation 12 was written exactly
once, by a request answered 500"). Counters are kept even when recording is off, so a
benchmark can switch the per-request records off and still read `stats()`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RequestLog", "RequestRecord"]


@dataclass(slots=True, frozen=True)
class RequestRecord:
    """One request as the server handled it.

    `status` is None when the connection was dropped without an HTTP answer.
    `applied` is True when this request wrote the conversation (a 200, or a fault that
    answers an error after writing). `fault` names the injected fault, if any.
    `at` is a reading of the simulator's clock (monotonic unless a test injects one).
    `query` is the raw query string (a list request's cursor and filters), "" if none.
    """

    seq: int
    method: str
    path: str
    conversation_id: int | None
    body: Any
    status: int | None
    applied: bool
    fault: str | None
    at: float
    query: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """Append-only request records plus counters that survive `record=False`."""

    def __init__(self, *, record: bool = True) -> None:
        self.record = record
        self.records: list[RequestRecord] = []
        self.requests = 0
        self.applied = 0
        self.by_status: Counter[int | None] = Counter()
        self.by_fault: Counter[str] = Counter()

    def add(
        self,
        method: str,
        path: str,
        conversation_id: int | None,
        body: Any,
        status: int | None,
        applied: bool,
        fault: str | None,
        at: float,
        query: str = "",
    ) -> None:
        self.requests += 1
        self.applied += applied
        self.by_status[status] += 1
        if fault is not None:
            self.by_fault[fault] += 1
        if self.record:
            self.records.append(
                RequestRecord(
                    self.requests, method, path, conversation_id, body, status, applied,
                    fault, at, query,
                )
            )

    def for_conversation(self, conversation_id: int) -> list[RequestRecord]:
        """Records of the requests that named this conversation, oldest first."""
        return [r for r in self.records if r.conversation_id == conversation_id]

    def stats(self) -> dict[str, Any]:
        """Counts as plain JSON: `dropped` counts answers never sent (connection reset)."""
        return {
            "requests": self.requests,
            "applied": self.applied,
            "rate_limited": self.by_status[429],
            "dropped": self.by_status[None],
            "by_status": {_label(k): v for k, v in sorted(self.by_status.items(), key=_key)},
            "by_fault": dict(sorted(self.by_fault.items())),
        }


def _key(item: tuple[int | None, int]) -> int:
    return -1 if item[0] is None else item[0]


def _label(status: int | None) -> str:
    return "dropped" if status is None else str(status)
