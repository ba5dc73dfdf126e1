"""Why a run stopped before its last row: a `StopReason`, and the `Stop` that carries it.

A shared type because every layer names it: the sending side halts a run for one
(`worker.sending.control`), the runner and `verify` turn it into an exit code
(`worker.core.exitcodes`), the report's meta records its value, and `report` advises
from it (`worker.report.nextsteps`). Decisions are made on the reason, never by searching
the message.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Stop", "StopReason"]


class StopReason(enum.StrEnum):
    INTERRUPTED = "interrupted"  # SIGINT/SIGTERM, or the drain deadline
    UNAUTHORIZED = "unauthorized"  # 401: the key, not a row, is wrong
    BREAKER = "breaker"  # the circuit breaker: the API (or the quota) looks down
    NO_PROGRESS = "no_progress"  # no request went through for no_progress_timeout_s
    REFUSED = "refused"  # every row so far refused the same way: the job, not the rows
    REPORT = "report"  # the report could not be written
    INTERNAL = "internal"  # a bug: the run stops rather than guess
    CANARY = "canary"  # `run --canary`: its rows did not all hold, or the operator said no
    WINDOW = "window"  # `run --finish-by`: the window closed; --resume sends the rest

    @property
    def aborted(self) -> bool:
        """The run had to stop (exit 3), rather than was asked to (an interrupt), held
        back after its canary, or reached the end of its --finish-by window (exit 3 too,
        but no failure: `worker.core.exitcodes.exit_code`)."""
        return self not in (StopReason.INTERRUPTED, StopReason.CANARY, StopReason.WINDOW)

    @classmethod
    def of(cls, text: object) -> StopReason | None:
        """The reason a report's meta names (`stop`); None if none or unknown."""
        return _BY_VALUE.get(text) if isinstance(text, str) else None


@dataclass(frozen=True, slots=True)
class Stop:
    reason: StopReason
    detail: str  # what to tell the operator

    @property
    def aborted(self) -> bool:
        return self.reason.aborted

    def __str__(self) -> str:
        return self.detail


_BY_VALUE = {r.value: r for r in StopReason}
