"""Is the run that wrote a report finished? The report's rows against its meta.

A report is finished when it holds a line for every row of its job (`R.meta.json`'s
`rows`) and none of them is `skipped`. Short of rows: the run was killed (kill -9, a
power cut), or is still under way (the meta's `ended` is false until a run ends).
Skipped rows: a run stopped (`stop`: interrupted, window, canary, breaker, ...). Either
way `report` says so, gives the resume command and exits non-zero (`EXIT_UNFINISHED`):
a report that is short of rows never reads as "done".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from worker.core.exitcodes import ExitCode
from worker.core.outcomes import Outcome
from worker.core.stops import StopReason
from worker.report import meta
from worker.report.stats import ReportStats

__all__ = ["EXIT_UNFINISHED", "Completion", "completion"]

# `report`'s exit code for a run that did not finish: 3, as `run` exits when it stopped
# before its end and leaves rows for --resume (README: Exit codes).
EXIT_UNFINISHED = ExitCode.ABORTED

_STOPS = {  # what stopped the run, in words: "the run did not finish: ..."
    StopReason.INTERRUPTED: "it was interrupted (Ctrl-C or SIGTERM)",
    StopReason.WINDOW: "its --finish-by window closed",
    StopReason.CANARY: "its canary did not hold or was not confirmed",
    StopReason.UNAUTHORIZED: "the API refused the key (401)",
    StopReason.BREAKER: "the circuit breaker stopped it (the API looked down)",
    StopReason.REFUSED: "its first rows were all refused the same way",
    StopReason.REPORT: "a file of its own could not be written",
    StopReason.INTERNAL: "it met an internal error",
}


@dataclass(frozen=True, slots=True)
class Completion:
    job_rows: int | None  # the job's rows, per the meta (None: unknown)
    rows: int  # lines in the report
    skipped: int
    stop: StopReason | None  # why the last run stopped, per the meta
    ended: bool | None  # the last run reached its end (False: killed or under way)

    @property
    def rows_missing(self) -> int:
        return 0 if self.job_rows is None else max(0, self.job_rows - self.rows)

    @property
    def finished(self) -> bool:
        return not self.rows_missing and not self.skipped

    @property
    def unfinished_rows(self) -> int:
        """Rows a `--resume` would send: those missing and those skipped."""
        return self.rows_missing + self.skipped

    def explain(self) -> str:
        """Why the run is not finished, in words ("" when it is)."""
        if self.finished:
            return ""
        parts = []
        if self.rows_missing:
            parts.append(f"{self.rows_missing} of the job's {self.job_rows} rows are not "
                         "yet in the report")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        why = ""
        if self.rows_missing and self.ended is False:
            why = ": it was killed, or is still under way"
        elif self.stop is not None:
            why = f": {_STOPS[self.stop]}"
        return f"the run did not finish{why}; {', '.join(parts)}"


def completion(report: Path, stats: ReportStats) -> Completion:
    return Completion(job_rows=meta.job_rows(report), rows=stats.rows,
                      skipped=stats.outcomes[Outcome.SKIPPED], stop=meta.stopped_by(report),
                      ended=meta.ended(report))
