"""Progress on stderr: a live bar on a terminal, a plain line every few seconds elsewhere.

On a terminal (rich): rows done / total, ok / failed, request rate, 429s and ETA.
Off a terminal (cron, CI, a pipe): one plain line every `every_s` seconds, which is what
log collectors keep; with `--log-format json`, the same as a `progress` event with its
figures as fields, terminal or not. `--quiet` gives `NullProgress`. Callers feed results
with `add()`. Each adds "concurrency 64 reached: raise --concurrency" while the
concurrency cap, not the rate, holds requests back (`worker.sending.concurrency`).

"Done" is a row with its final outcome: a `skipped` row (a stop: Ctrl-C, a closed
--finish-by window) is not done, so a stopped run's bar is drawn short, with its
skipped rows named, never full.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from worker import logs
from worker.core.outcomes import Outcome, Result
from worker.run.summary import Summary, cap_note
from worker.sending.concurrency import Concurrency

__all__ = ["NullProgress", "PlainProgress", "Progress", "make_progress"]

_MARK_S = 0.1  # rows are counted as they come; the rate and the bar move at most this often


class Progress(Protocol):
    def __enter__(self) -> Progress: ...
    def __exit__(self, *exc: object) -> None: ...
    def add(self, result: Result) -> None: ...


class NullProgress:
    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add(self, result: Result) -> None:
        return None


class _Rate:
    """Requests per minute over the last `span_s` seconds."""

    def __init__(self, span_s: float = 20.0) -> None:
        self._span_s = span_s
        self._marks: deque[tuple[float, int]] = deque()
        self._total = 0

    def add(self, requests: int, now: float) -> None:
        self._total += requests
        self._marks.append((now, self._total))
        while self._marks and now - self._marks[0][0] > self._span_s:
            self._marks.popleft()

    def per_minute(self, now: float) -> float:
        if len(self._marks) < 2:
            return 0.0
        t0, n0 = self._marks[0]
        return (self._total - n0) / max(now - t0, 1e-9) * 60


class _CapWatch:
    """Whether the concurrency cap held requests back since the last look."""

    def __init__(self, gate: Concurrency | None, now: float) -> None:
        self._gate = gate
        self._held = 0.0
        self._at = now

    def note(self, now: float) -> str:
        if self._gate is None:
            return ""
        held = self._gate.cap_held()
        note = cap_note(self._gate.cap, held - self._held, now - self._at)
        self._held, self._at = held, now
        return note


def _done(summary: Summary) -> int:
    """Rows with their final outcome: the skipped ones wait for --resume."""
    return summary.rows - summary.outcomes[Outcome.SKIPPED]


def _skipped(summary: Summary) -> str:
    skipped = summary.outcomes[Outcome.SKIPPED]
    return f", {skipped} skipped" if skipped else ""


def _eta(done: int, total: int, rows_per_s: float) -> str:
    if rows_per_s <= 0 or done >= total:
        return "-"
    seconds = int((total - done) / rows_per_s)
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


class PlainProgress:
    def __init__(self, total: int, summary: Summary, *, every_s: float = 10.0,
                 stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 as_events: bool = False, concurrency: Concurrency | None = None) -> None:
        self._total, self._summary, self._every_s = total, summary, every_s
        self._stream, self._clock, self._as_events = stream, clock, as_events
        self._rate = _Rate()
        self._started = self._last = self._marked = clock()
        self._pending = 0  # requests of the rows added since the rate was last marked
        self._mark_s = min(_MARK_S, every_s)
        self._cap = _CapWatch(concurrency, self._started)
        self._cap_note = ""  # what the cap did over the last interval

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add(self, result: Result) -> None:
        self._pending += result.attempts
        now = self._clock()
        if now - self._marked < self._mark_s:
            return  # a row's share of the work: count it, look at the rest later
        self._rate.add(self._pending, now)
        self._pending, self._marked = 0, now
        if now - self._last >= self._every_s:
            self._last = now
            self._cap_note = self._cap.note(now)
            if self._as_events:
                logs.event("progress", self.line(now), **self.fields(now))
            else:
                print(self.line(now), file=self._stream or sys.stderr, flush=True)

    def fields(self, now: float) -> dict[str, Any]:
        s = self._summary
        rows_per_s = (s.rows - s.carried) / max(now - self._started, 1e-9)
        left = self._total - s.rows
        return {"rows_done": _done(s), "rows_total": self._total,
                **{f"rows_{o.value}": s.outcomes[o] for o in Outcome},
                "requests": s.requests, "requests_per_minute": round(
                    self._rate.per_minute(now), 1), "http_429": s.throttled,
                "eta_s": round(left / rows_per_s) if rows_per_s > 0 and left > 0 else None,
                "concurrency_cap_reached": bool(self._cap_note)}

    def line(self, now: float) -> str:
        s = self._summary
        done = _done(s)
        pct = 100 * done / self._total if self._total else 100.0
        rows_per_s = (s.rows - s.carried) / max(now - self._started, 1e-9)
        return (f"progress: {done}/{self._total} rows ({pct:.1f}%), {s.outcomes[Outcome.OK]} ok, "
                f"{s.outcomes[Outcome.FAILED]} failed, {s.outcomes[Outcome.INVALID]} invalid"
                f"{_skipped(s)} | {self._rate.per_minute(now):.0f} req/min | "
                f"{s.throttled} x 429 | ETA {_eta(s.rows, self._total, rows_per_s)}"
                + (f" | {self._cap_note}" if self._cap_note else ""))


class RichProgress:
    def __init__(self, total: int, summary: Summary,
                 concurrency: Concurrency | None = None, *, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self._summary = summary
        self._rate = _Rate()
        self._bar = Bar(TextColumn("[bold]partoo-bulk"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[counts]}"), TimeRemainingColumn(),
                        console=console or Console(stderr=True), transient=False)
        self._task = self._bar.add_task("run", total=total, counts="")
        self._cap = _CapWatch(concurrency, time.monotonic())
        self._cap_text = ""
        self._cap_looked = self._marked = time.monotonic()
        self._pending = 0

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._draw(time.monotonic())  # with the rows added since the last redraw
        self._bar.stop()

    def add(self, result: Result) -> None:
        self._pending += result.attempts
        now = time.monotonic()
        if now - self._marked >= _MARK_S:  # redrawn a few times a second, not every row
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._rate.add(self._pending, now)
        self._pending, self._marked = 0, now
        if now - self._cap_looked >= 5.0:  # looked at over a few seconds, not per row
            note = self._cap.note(now)
            self._cap_text, self._cap_looked = (f" | {note}" if note else ""), now
        s = self._summary
        # Invalid and skipped only when there are some: on an 80-column terminal the
        # counts must leave room for the bar's "done/total".
        o = s.outcomes
        invalid, skipped = o[Outcome.INVALID], o[Outcome.SKIPPED]
        counts = (f"[green]{o[Outcome.OK]} ok[/] [red]{o[Outcome.FAILED]} failed[/]"
                  + (f" {invalid} invalid" if invalid else "")
                  + (f" [yellow]{skipped} skipped[/]" if skipped else "")
                  + f" | {self._rate.per_minute(now):.0f}/min | "
                  f"{s.throttled} x 429{self._cap_text}")
        self._bar.update(self._task, completed=_done(s), counts=counts)


def make_progress(total: int, summary: Summary, *, quiet: bool,
                  concurrency: Concurrency | None = None) -> Progress:
    if quiet:
        return NullProgress()
    if logs.json_mode():
        return PlainProgress(total, summary, as_events=True, concurrency=concurrency)
    if sys.stderr.isatty():
        return RichProgress(total, summary, concurrency)
    return PlainProgress(total, summary, concurrency=concurrency)
