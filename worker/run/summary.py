"""A run's counts (`Summary`, the one tally of `worker.report.stats`), the one-line summary
printed at its end, and the summary JSON."""

from __future__ import annotations

import errno
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.core.filepath import is_special
from worker.core.outcomes import Outcome, Result
from worker.core.text import counted
from worker.files.atomic import write_text
from worker.files.runfiles import tmp_of
from worker.report.stats import Counts

__all__ = ["ConcurrencyUse", "Summary", "cap_note", "write_summary_json"]

# The cap "held the run back" when every row was busy for this share of the time (and at
# least _CAP_MIN_S): less is the odd slow reply, not a cap to raise.
_CAP_SHARE = 0.05
_CAP_MIN_S = 0.5


def cap_note(cap: int, held_s: float, span_s: float) -> str:
    """"concurrency 64 reached: raise --concurrency" if the cap held requests back for
    a fair share of `span_s`, else ""."""
    if held_s < _CAP_MIN_S or held_s < _CAP_SHARE * span_s:
        return ""
    return f"concurrency {cap} reached: raise --concurrency"


@dataclass(frozen=True, slots=True)
class ConcurrencyUse:
    """How the run used its concurrency (`worker.sending.concurrency`)."""

    cap: int
    most_in_flight: int  # the most rows busy at once (a request out, or a retry wait)
    cap_held_s: float  # time every one of `cap` rows was busy: the cap, not the rate, held


@dataclass
class Summary(Counts):
    """A run's `Counts` (the one tally `report` reads a report with), and what only the
    run knows: its requests, 429s and retries, the rows kept from an earlier report,
    how it used its concurrency. The HTTP statuses are of the rows this run sent."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0  # requests beyond each row's first, 429s and reads not counted
    carried: int = 0  # rows kept from an earlier report on --resume, not sent again
    concurrency: ConcurrencyUse | None = None  # set once the rows are sent

    def add(self, result: Result) -> None:
        kept = result.line is not None
        status = None if kept else ("" if result.http_status is None
                                    else str(result.http_status))
        self.count(result.outcome, result.fault, result.error, result.row, status=status)
        if kept:
            self.carried += 1
            return
        self.requests += result.attempts
        self.throttled += result.throttled
        self.retries += max(0, result.attempts - result.throttled - result.reads - 1)

    def carry(self, outcomes: Counter[Outcome]) -> None:
        """Rows kept unchanged from an earlier report, counted at once."""
        super().carry(outcomes)
        self.carried += sum(outcomes.values())

    def absorb(self, other: Counts) -> None:
        """Count in what an earlier part of the same run sent (a canary): its requests,
        429s, retries, statuses and errors. Its rows are in this part's report, kept."""
        super().absorb(other)
        if isinstance(other, Summary):
            self.requests += other.requests
            self.throttled += other.throttled
            self.retries += other.retries
            # Rows it settled came back here as kept rows, but they are this run's own.
            self.carried -= other.rows - other.carried - other.outcomes[Outcome.SKIPPED]

    def line(self, wall_s: float, report: str) -> str:
        o = self.outcomes
        rate = self.requests / wall_s * 60 if wall_s > 0 else 0.0
        kept = f" ({self.carried} kept from the earlier report)" if self.carried else ""
        counts = ", ".join(f"{o[outcome]} {outcome.value}" for outcome in Outcome)
        return (f"{counted(self.rows, 'row')}{kept}: {counts} | "
                f"{counted(self.requests, 'request')}, {self.throttled} x 429, "
                f"{counted(self.retries, 'retry', 'retries')} | {_duration(wall_s)} "
                f"({rate:.0f} req/min){self._cap_part(wall_s)} | report: {report}")

    def _cap_part(self, wall_s: float) -> str:
        c = self.concurrency
        note = "" if c is None else cap_note(c.cap, c.cap_held_s, wall_s)
        if c is None or not note:
            return ""
        share = c.cap_held_s / wall_s if wall_s > 0 else 1.0
        return f" | {note} (it held requests back {share:.0%} of the time)"

    def as_dict(self, wall_s: float) -> dict[str, Any]:
        return {"rows": self.rows, "outcomes": {o.value: self.outcomes[o]
                                                for o in Outcome},
                "kept_from_earlier_report": self.carried,
                "failed_on_outage": self.failed_on_outage,
                "http_statuses": {status or "none": n
                                  for status, n in sorted(self.statuses.items())},
                "errors": self.errors(),
                "requests": self.requests, "http_429": self.throttled,
                "retries": self.retries, "wall_time_s": round(wall_s, 3),
                "achieved_rate_per_minute": round(self.requests / wall_s * 60, 1)
                if wall_s > 0 else 0.0,
                "concurrency": self._concurrency_dict(wall_s)}

    def _concurrency_dict(self, wall_s: float) -> dict[str, Any] | None:
        c = self.concurrency
        if c is None:
            return None
        note = cap_note(c.cap, c.cap_held_s, wall_s)
        return {"cap": c.cap, "most_in_flight": c.most_in_flight,
                "cap_held_s": round(c.cap_held_s, 3), "cap_reached": bool(note),
                "hint": note or None}


def write_summary_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically (`worker.files.atomic`): a monitor never reads half a file. Raises
    OSError, also for a path that is not a regular file (the summary of a run refused for
    that very path)."""
    if is_special(path):
        raise OSError(errno.EINVAL, "not a regular file")
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n",
               tmp=tmp_of(path))  # RunFiles names it: checked with the other outputs




def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{seconds:.1f}s"
