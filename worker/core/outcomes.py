"""What happened to one row: the `Result` that becomes one line of the report, and for a
failed row whose fault it was (`Fault`, decided by the error's class in
`worker.core.errors`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["FINAL_OUTCOMES", "Fault", "Outcome", "Result"]


class Outcome(enum.StrEnum):
    OK = "ok"  # the API answered 200 {"status": "success"}
    FAILED = "failed"  # sent, and did not succeed (the error says why)
    INVALID = "invalid"  # never sent: the row itself is wrong
    SKIPPED = "skipped"  # never sent: the run stopped first (interrupt, abort)
    # never sent: the row's guard no longer holds (worker.core.guards); not a failure,
    # and nothing to retry: the job is out of date for this conversation
    CHANGED = "changed"


class Fault(enum.StrEnum):
    """Whose fault a failed row is: the report's `fault` cell."""

    OUTAGE = "outage"  # the server's, a proxy's or the network's: send it again once well
    REFUSED = "refused"  # the API refused this row: fix its cause first

    @classmethod
    def of(cls, text: str) -> Fault | None:
        """The fault a report's `fault` cell names; None for '' (not a failed row)."""
        return _FAULT_BY_NAME.get(text)


_FAULT_BY_NAME = {f.value: f for f in Fault}


# Outcomes that `--resume` keeps; a skipped row is sent on resume.
FINAL_OUTCOMES = frozenset({Outcome.OK, Outcome.FAILED, Outcome.INVALID, Outcome.CHANGED})


@dataclass(slots=True)
class Result:
    """One row's outcome. `cells` are the job's extra columns, carried through unchanged.

    `line` is set only for a row copied from an earlier report on resume: the report
    writes it back as it was, so a resumed report reads as if the run never stopped.
    """

    row: int
    conversation_id: str
    action: str
    value: str
    outcome: Outcome
    http_status: int | None = None
    attempts: int = 0
    error: str = ""
    fault: Fault | None = None  # a failed row's: whose fault (`RequestError.fault`)
    duration_ms: int | None = None
    finished_at: str = ""
    cells: list[str] = field(default_factory=list)
    line: list[str] | None = None
    throttled: int = 0  # 429 answers among `attempts`; for the summary, not the report
    reads: int = 0  # state reads (guard, undo capture, read-back) among `attempts`
