"""Where a run's rows go in, and where their results come out.

- `hold_back`: with `--canary N`, the first N rows to send go to the engine; the later
  ones come out `skipped` unsent, for the run's second part (a resume) to send.
- `ReportSink`: results arrive in row order: the report line first, then the counts and
  the progress, and, for a canary, the rows it sent. The lines are handed to the OS in
  one batch per turn of the event loop (`flush`, a callback queued behind the ones
  running now), so every row finished before the loop waits again is on the OS,
  whatever kills the process then, with one write for all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

from worker.core.operations import Operation
from worker.core.outcomes import Result
from worker.report.writer import ReportWriter
from worker.run.progress import Progress
from worker.run.summary import Summary
from worker.sending.control import RunControl
from worker.sending.retrypolicy import Tally
from worker.sending.row import skipped

__all__ = ["ReportSink", "hold_back"]


def hold_back(items: Iterable[Operation | Result],
              canary: int) -> Iterator[Operation | Result]:
    """With a canary, the first `canary` rows to send go; the later ones are reported
    `skipped` unsent, for the run's second part (a resume) to send."""
    if not canary:
        yield from items
        return
    for item in items:
        if isinstance(item, Operation):
            if canary <= 0:
                item = skipped(item, Tally(), "held back by --canary until its rows "
                               "are checked; --resume sends it")
            canary -= 1
        yield item


class ReportSink:
    """Where results arrive, in row order: the report line, then the counts and progress.

    A write that fails (disk full) cancels the run and is kept, to be raised once the
    engine is done; rows after it are not written (they are re-sent on resume).
    """

    def __init__(self, report: ReportWriter, summary: Summary, progress: Progress,
                 control: RunControl) -> None:
        self._report = report
        self._summary = summary
        self._progress = progress
        self._control = control
        self._flush_due = False
        self.error: OSError | None = None
        self.sent: list[Result] | None = None  # with a canary: the rows it sent

    def __call__(self, result: Result) -> None:
        if self.error is not None:
            return
        try:
            self._report.write(result)
        except OSError as exc:
            self._failed(exc)
            return
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self.flush)
        self._summary.add(result)
        self._progress.add(result)
        if self.sent is not None and result.line is None and result.attempts:
            self.sent.append(result)

    def flush(self) -> None:
        """The lines written since the last flush, to the OS (once per loop turn)."""
        self._flush_due = False
        if self.error is not None:
            return
        try:
            self._report.flush()
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        self.error = exc
        self._control.cancel()
