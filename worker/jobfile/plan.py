"""The plan of a job: what a run would send, counted in one streaming pass, nothing sent.

`make_plan(job)` reads every row once. `run` shows `Plan.describe(rate)` before asking
for confirmation; `partoo-bulk plan` prints the same text and exits on `Plan.invalid`.

Memory: a `Plan` holds counts and a few examples only, so it costs nothing while a run
that keeps it in scope is under way. Finding conversations touched more than once needs
every id: `worker.jobfile.repeats` counts them in flat memory, a big job's ids spilled
to a private temporary folder by parts and counted one part at a time. That folder full
(or unwritable) is a `StartupError` (exit 2) saying so and naming TMPDIR, not a crash.
"""

from __future__ import annotations

import errno
import tempfile
from collections import Counter
from dataclasses import dataclass, field

from worker.core.columns import JOB_COLUMNS
from worker.core.errors import StartupError
from worker.core.guards import GUARD_COLUMNS
from worker.core.operations import Action, Operation
from worker.core.text import counted
from worker.jobfile.reader import Job
from worker.jobfile.repeats import Repeats

__all__ = ["Estimate", "InvalidExample", "Plan", "Touch", "make_plan"]

_SHOWN_INVALID = 5
_SHOWN_REPEATED = 3  # conversations shown as examples
_SHOWN_ROWS = 4  # rows shown per example conversation
_ACTIONS = tuple(Action)  # display order: close, open, assign, unassign
_COLUMNS = (*JOB_COLUMNS, *GUARD_COLUMNS)
_INDEX = {action: i for i, action in enumerate(_ACTIONS)}


@dataclass(frozen=True, slots=True)
class Touch:
    """One row of a conversation that has several: shown as `row 16 assign 62d8…`."""

    row: int
    action: str
    value: str = ""

    def __str__(self) -> str:
        return f"row {self.row} {self.action}" + (f" {self.value}" if self.value else "")


@dataclass(frozen=True, slots=True)
class InvalidExample:
    """An invalid row shown as `row 7: conversation_id 'abc' is not ...: the fix`."""

    row: int
    message: str  # naming the column to look at, and the fix

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass(frozen=True, slots=True)
class Estimate:
    """`Plan.estimate`: the rows and requests left to send, their duration at the rate,
    and how many of the rows a `--finish-by` window of `window_s` seconds reaches."""

    rows: int  # rows to send (valid, not kept by a resume)
    requests: int
    duration_s: float
    window_s: float | None = None
    rows_reached: int = 0  # of `rows`, those the window reaches (all when it fits)

    @property
    def fits(self) -> bool:
        return self.window_s is None or self.duration_s <= self.window_s

    def describe_window(self, given: str) -> str:
        window = _human(max(self.window_s or 0.0, 0.0) / 60)
        if self.fits:
            return f"--finish-by {given}: fits (the window is {window})"
        return (f"--finish-by {given}: does NOT fit: the window is {window}, so the run "
                f"will reach about {self.rows_reached} of the {self.rows} rows to send; "
                "the rest are reported skipped, for --resume (lower the job, or widen "
                "the window)")


@dataclass
class Plan:
    rows: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    invalid: int = 0
    invalid_examples: list[InvalidExample] = field(default_factory=list)
    conversations: int = 0  # distinct conversations the valid rows touch
    repeated: int = 0  # conversations that more than one valid row touches
    repeated_examples: dict[int, list[Touch]] = field(default_factory=dict)
    guarded: int = 0  # valid rows with a guard: one GET each before the change
    guarded_first: int = 0  # conversations whose first valid row is guarded

    @property
    def requests(self) -> int:
        return self.rows - self.invalid

    def estimate_s(self, rate_per_minute: float, *, undo: bool = False,
                   guards: bool = True) -> float:
        return self.total_requests(undo=undo, guards=guards) / rate_per_minute * 60

    def total_requests(self, *, undo: bool = False, guards: bool = True,
                       kept_sent: int = 0) -> int:
        """The one count of the requests a run of this plan makes: the estimate, the
        fit in a `--finish-by` window and the prompt all come from it, so a request a
        row gains is added here. PATCHes (at most: a guarded row may need none), plus
        one GET per guarded row, plus with `--undo-out` one GET per conversation before
        its change unless that change's guard read it already (one read serves both);
        less, on a resume, the `kept_sent` rows already sent (their reads in proportion)."""
        rows = max(0, self.requests - kept_sent)
        reads = self.guard_reads(guards) + self.undo_reads(undo, guards)
        if rows < self.requests:
            reads = -(-reads * rows // self.requests)  # in proportion, rounded up
        return rows + reads

    def guard_reads(self, guards: bool = True) -> int:
        return self.guarded if guards else 0

    def undo_reads(self, undo: bool, guards: bool = True) -> int:
        if not undo:
            return 0
        return self.conversations - (self.guarded_first if guards else 0)

    def estimate(self, rate_per_minute: float, *, undo: bool = False, guards: bool = True,
                 kept_sent: int = 0, window_s: float | None = None) -> Estimate:
        """What is left to send, how long it takes at the rate, and, given the seconds
        of a `--finish-by` window, how many of the rows it reaches."""
        rows = max(0, self.requests - kept_sent)
        requests = self.total_requests(undo=undo, guards=guards, kept_sent=kept_sent)
        duration = requests / rate_per_minute * 60
        reached = rows
        if window_s is not None and duration > window_s:
            reached = min(rows, int(rows * max(window_s, 0.0) / duration))
        return Estimate(rows, requests, duration, window_s, reached)

    def describe(self, rate_per_minute: float, *, undo: bool = False, guards: bool = True,
                 kept_sent: int = 0, window: tuple[str, float] | None = None) -> str:
        """The plan in words. `kept_sent`: rows a resume keeps (the estimate is for the
        rest); `window`: `--finish-by`'s (what was given, seconds left) to fit into."""
        if not self.rows:
            return "0 rows: the job has a header but no rows, so there is nothing to send"
        lines = [f"{self.rows} rows: " + ", ".join(
            f"{self.actions[a]} {a}" for a in _ACTIONS if self.actions[a])
            + f"{', ' if self.requests else ''}{self.invalid} invalid"]
        lines += self._describe_repeated()
        lines += self._describe_invalid()
        lines += self._describe_guards(rate_per_minute, guards)
        est = self.estimate(rate_per_minute, undo=undo, guards=guards, kept_sent=kept_sent,
                            window_s=None if window is None else window[1])
        parts = []
        if self.guard_reads(guards):
            parts.append(f"{self.guard_reads(guards)} guard reads")
        if undo:
            parts.append(f"{self.undo_reads(undo, guards)} reads for --undo-out")
        reads = f", {parts[0].replace(' ', ' of them ', 1)}" if parts and not kept_sent else ""
        reads += "".join(f" and {part}" for part in parts[1:]) if not kept_sent else ""
        left = f" for the {counted(est.rows, 'row')} left" if kept_sent else ""
        lines.append(f"estimated duration{left}: about {_human(est.duration_s / 60)} "
                     f"({counted(est.requests, 'request')}{reads} at "
                     f"{rate_per_minute:g}/min; longer if the API asks us to slow down)")
        if window is not None:
            lines.append(est.describe_window(window[0]))
        return "\n".join(lines)

    def _describe_guards(self, rate_per_minute: float, guards: bool) -> list[str]:
        if not self.guarded:
            return []
        rows = counted(self.guarded, "row")
        if not guards:
            return [f"{rows} guarded, but --no-guards: sent without reading the "
                    "conversation first; one that changed since the job was made is "
                    "overwritten"]
        cost = _human(self.guarded / rate_per_minute)
        return [f"{rows} guarded: each conversation is read just before its change "
                f"({counted(self.guarded, 'request')} more, about {cost} at "
                f"{rate_per_minute:g}/min); a row whose conversation changed since the job "
                "was made is not sent (`changed`), one already in its target state is "
                "`ok` with nothing sent"]

    def _describe_repeated(self) -> list[str]:
        if not self.repeated:
            return []
        lines = [f"{counted(self.repeated, 'conversation')} touched by more than one row: "
                 "file order decides, the last row wins (for the status and for the "
                 "assignee separately)"]
        for cid, touches in self.repeated_examples.items():
            shown = ", ".join(str(t) for t in touches[:_SHOWN_ROWS])
            more = ", …" if len(touches) > _SHOWN_ROWS else ""
            lines.append(f"  conversation {cid}: {shown}{more}")
        if self.repeated > len(self.repeated_examples):
            lines.append(f"  ... and {self.repeated - len(self.repeated_examples)} more")
        return lines

    def _describe_invalid(self) -> list[str]:
        if not self.invalid:
            return []
        lines = [f"{counted(self.invalid, 'invalid row')}, never sent (row 1 is the first "
                 "data line; a header and blank lines are not rows):"]
        lines += [f"  {example}" for example in self.invalid_examples]
        if self.invalid > len(self.invalid_examples):
            lines.append(f"  ... and {self.invalid - len(self.invalid_examples)} more "
                         "invalid rows (a run lists every one in its report)")
        return lines


def make_plan(job: Job, *, counts_only: bool = False) -> Plan:
    """Count what a run would send. `counts_only` skips what needs to see every
    conversation (repeats, distinct conversations): a `run --yes` only needs the counts.
    Either way memory stays flat (`worker.jobfile.repeats`)."""
    if counts_only:
        return _counts(job)
    try:
        with Repeats(shown=_SHOWN_REPEATED, rows_shown=_SHOWN_ROWS) as repeats:
            plan = _counts(job, repeats)
            counted = repeats.finish()
    except OSError as exc:  # the spill folder's: the reader turns its own into JobFileError
        raise _cannot_spill(exc) from None
    plan.conversations = counted.conversations
    plan.repeated = counted.repeated
    plan.guarded_first = counted.guarded_first
    plan.repeated_examples = {
        cid: [Touch(row, _ACTIONS[action].value, value) for row, action, value in touches]
        for cid, touches in counted.examples.items()}
    return plan


def _counts(job: Job, repeats: Repeats | None = None) -> Plan:
    plan = Plan()
    add = None if repeats is None else repeats.add
    for item in job.items():
        plan.rows += 1
        if isinstance(item, Operation):
            plan.actions[item.action.value] += 1
            plan.guarded += item.guard is not None
            if add is not None:
                add(item.conversation_id, item.row, _INDEX[item.action], item.value,
                    item.guard is not None)
        else:
            plan.invalid += 1
            if len(plan.invalid_examples) < _SHOWN_INVALID:
                plan.invalid_examples.append(InvalidExample(item.row,
                                                            _with_column(item.error)))
    return plan


def _cannot_spill(exc: OSError) -> StartupError:
    """A full (or unwritable) temporary folder, said as what it is: the machine's, not a
    bug, found before anything is sent."""
    folder = tempfile.gettempdir()
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    what = (f"the temporary folder {folder} is full" if full
            else f"the temporary folder {folder} cannot be written")
    return StartupError(
        f"cannot count the job's conversations: {what} ({exc.strerror or exc}); a big "
        "job's ids are kept there while they are counted, about 50 bytes a row: "
        f"{'free some space there' if full else 'make it writable'}, or point TMPDIR at a "
        "folder with room. Nothing was sent")


def _with_column(message: str) -> str:
    """The message, naming where to look: a reader fixes a cell, not a row.

    The row checks name their column in every message; the one check that does not is
    about the whole row (more cells than the header has columns).
    """
    if any(name in message for name in _COLUMNS):
        return message
    return f"whole row: {message}"




def _human(minutes: float) -> str:
    if minutes < 1:
        return f"{max(1, round(minutes * 60))} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 60 / 24:.1f} days"
