"""What a run is asked to do (`RunRequest`) and what it hands back (`RunResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from worker.config import Settings
from worker.core.errors import ConfigError
from worker.core.exitcodes import ExitCode
from worker.core.outcomes import Outcome, Result
from worker.core.stops import Stop
from worker.files.runfiles import RunFiles
from worker.jobfile.pinned import JobSource
from worker.report.lock import Hold
from worker.run.summary import Summary
from worker.sending.ratelimit import RateLimiter
from worker.sending.signals import DRAIN_TIMEOUT_S

__all__ = ["RunRequest", "RunResult"]


@dataclass(frozen=True)
class RunRequest:
    job: JobSource  # read once, under the report's lock (`worker.jobfile.pinned`)
    settings: Settings
    report: Path
    resume: bool = False
    retry_failed: bool = False
    overwrite: bool = False
    yes: bool = False
    strict: bool = False
    undo_out: Path | None = None  # write an undo job here (reads each state first)
    guards: bool = True  # False (--no-guards): guarded rows are sent without reading first
    quiet: bool = False  # no progress output
    echo: bool = True  # the summary, undo and stop lines (the Python API: off unless asked)
    handle_signals: bool = True  # the CLI's graceful Ctrl-C; never for the Python API
    drain_timeout_s: float = DRAIN_TIMEOUT_S
    resume_hint: str = ""  # the command line that resumes this run
    canary: int = 0  # send only the first N rows; the others are held back, `skipped`
    earlier: RunResult | None = None  # the canary's part of this run, counted in its figures
    finish_by: datetime | None = None  # --finish-by: no request starts after it (aware)
    hold: Hold | None = None  # the report's lock, held by the caller (`runner.held`)
    limiter: RateLimiter | None = None  # the run's meter, when this is a part of it (canary)

    @property
    def files(self) -> RunFiles:
        """The files this run writes (its paths resolved by `runner.held`)."""
        return RunFiles(self.report, self.undo_out)

    def __post_init__(self) -> None:
        if self.retry_failed and not self.resume:
            raise ConfigError("--retry-failed goes with --resume (it re-sends the failed "
                              "rows of an existing report)")
        if self.resume and self.overwrite:
            raise ConfigError("--resume and --overwrite contradict each other: --resume "
                              "keeps the report's rows, --overwrite throws them away; "
                              "pick one")


@dataclass
class RunResult:
    """What a run hands back: the exit code, the counts, and why it stopped, if it did."""

    exit_code: int
    summary: Summary
    wall_s: float
    stop: Stop | None = None
    canary: list[Result] = field(default_factory=list)  # the rows a canary sent

    @property
    def finished(self) -> bool:
        """Every row of the job was decided (ok, failed or invalid): the run did not stop
        first, and held no row back. Only such a run is a success for monitoring, whatever
        its exit code (a canary that stopped the run exits 1, as a finished one can)."""
        return (self.stop is None and self.exit_code in (ExitCode.OK, ExitCode.FAILED)
                and not self.summary.outcomes[Outcome.SKIPPED])
