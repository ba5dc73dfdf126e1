"""The one tally of rows and how they ended (`Counts`): the run's summary
(`worker.run.summary.Summary`) and `report`'s statistics (`ReportStats`, what
`partoo-bulk report R` prints) are both one, so the two never disagree.

Errors are grouped by outcome and by their kind (`error_kind`: their text with what is
particular to one row taken out, quoted values, numbers other than the leading HTTP
status, so that "conversation_id 'abc' is not ..." and "conversation_id '-5' is not
..." count as one problem; a run's first refusals are told apart by it too,
`worker.sending.watchers.SameRefusals`). Each group keeps its first message in full and
the first rows to look at. Memory is bounded by the number of distinct problems, capped
at `_MAX_GROUPS`; past the cap, new kinds are counted together as "other errors".

`completion`: is the run that wrote a report finished? A report is finished when it
holds a line for every row of its job (`R.meta.json`'s `rows`) and none of them is
`skipped`. Short of rows: the run was killed (kill -9, a power cut), or is still under
way (the meta's `ended` is false until a run ends). Skipped rows: a run stopped (`stop`:
interrupted, window, canary, breaker, ...). Either way `report` says so, gives the
resume command and exits non-zero (`EXIT_UNFINISHED`): a report that is short of rows
never reads as "done".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from worker.core.columns import Col
from worker.core.exitcodes import ExitCode
from worker.core.guards import NOTHING_SENT
from worker.core.outcomes import Fault, Outcome
from worker.core.stops import StopReason
from worker.core.text import counted, plural, printable
from worker.report import meta
from worker.report.reader import ReportRow

__all__ = ["EXIT_UNFINISHED", "Completion", "Counts", "Group", "ReportStats", "completion",
           "error_kind"]

_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?!\w)""")
# Numbers, but not an HTTP status quoted after ": " or "(" ("... too: 404 Resource not
# found", "(last: 500 Internal Server Error)"): that one names the kind of error.
_NUMBER = re.compile(r"(?<![\w.])(?!(?<=: )[1-5]\d\d )(?!(?<=\()[1-5]\d\d )\d+(?:\.\d+)?(?![\w.])")
_STATUS = re.compile(r"\d{3} ")


def error_kind(error: str) -> str:
    """The error without what is particular to one row: the key its group is found by."""
    status = _STATUS.match(error)
    head, rest = (error[: status.end()], error[status.end():]) if status else ("", error)
    return head + _NUMBER.sub("#", _QUOTED.sub("'…'", rest))


_MAX_GROUPS = 10_000
_SHOWN_ROWS = 3
_OUTCOME_OF = {o.value: o for o in Outcome}
_OUTCOME_CELL, _STATUS_CELL = itemgetter(Col.OUTCOME), itemgetter(Col.HTTP_STATUS)
_OK = Outcome.OK.value
_ERROR, _OUTCOME = int(Col.ERROR), int(Col.OUTCOME)  # plain ints: an IntEnum index costs
_OTHER = "other errors (too many different messages to group them all)"


@dataclass
class Group:
    outcome: Outcome
    message: str  # the first message of the group, in full
    count: int = 0
    rows: list[int] = field(default_factory=list)  # the first few
    varies: bool = False  # some messages of the group differ in their values
    kind: str = ""  # `error_kind(message)`, the group's key ("" for the catch-all)


@dataclass
class Counts:
    """Rows and how they ended: by outcome, by the HTTP status of their last answer, the
    failed rows that were not their own fault (`Fault`: sending them again may work), and
    the errors of the rows not ok, grouped by kind."""

    rows: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)  # "" for no answer
    failed_on_outage: int = 0
    groups: dict[tuple[Outcome, str], Group] = field(default_factory=dict)

    def count(self, outcome: Outcome, fault: Fault | None, error: str, row: int, *,
              status: str | None) -> None:
        """One row. `status`: its last answer's ("" none), or None not to count it (a row
        kept from an earlier report, in a run's summary: the statuses are this run's)."""
        self.rows += 1
        self.outcomes[outcome] += 1
        if status is not None:
            self.statuses[status] += 1
        if outcome is not Outcome.OK:
            self._not_ok(outcome, fault, error, row)

    def carry(self, outcomes: Counter[Outcome]) -> None:
        """Rows counted at once by outcome alone (a resume's kept prefix: ok rows, and
        invalid ones whose errors the earlier run counted)."""
        self.rows += sum(outcomes.values())
        self.outcomes.update(outcomes)

    def absorb(self, other: Counts) -> None:
        """Count in another part of the same run (a canary's): its statuses and errors.
        Its rows are not added: they come back as kept rows of the later part."""
        self.statuses.update(other.statuses)
        for key, group in other.groups.items():
            mine = self.groups.get(key)
            if mine is None:
                self.groups[key] = Group(group.outcome, group.message, group.count,
                                         list(group.rows), group.varies, group.kind)
            else:
                mine.count += group.count
                mine.varies = mine.varies or group.varies or group.message != mine.message

    def errors(self, outcome: Outcome = Outcome.FAILED, top: int = 50) -> dict[str, int]:
        """The most frequent kinds of error of `outcome`'s rows, and how many each."""
        ranked = sorted((g for g in self.groups.values() if g.outcome is outcome),
                        key=lambda g: -g.count)
        return {g.kind or _OTHER: g.count for g in ranked[:top]}

    def _not_ok(self, outcome: Outcome, fault: Fault | None, error: str, row: int) -> None:
        if outcome is Outcome.FAILED and fault is not Fault.REFUSED:
            self.failed_on_outage += 1
        kind = error_kind(error)
        key = (outcome, kind)
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= _MAX_GROUPS:
                key = (outcome, _OTHER)
                group = self.groups.setdefault(key, Group(outcome, _OTHER))
            else:
                group = self.groups[key] = Group(outcome, error, kind=kind)
        group.count += 1
        group.varies = group.varies or error != group.message
        if len(group.rows) < _SHOWN_ROWS:
            group.rows.append(row)


@dataclass
class ReportStats(Counts):
    """A report's `Counts`, read from its lines, and what only a report tells: the ok
    rows known by a read-back, and those a guard found done already."""

    read_back_ok: int = 0  # ok rows known only by reading the conversation back
    first_read_back_ok: int = 0
    already_ok: int = 0  # guarded ok rows that needed no request: already in their target

    def add_lines(self, lines: list[list[str]]) -> None:
        """Count these whole report lines (`ReportFile.chunks`) with C loops: only the
        lines with something to note (not ok, or an ok with a note in its error column)
        become a `ReportRow`, a few in a million in a good run."""
        self.rows += len(lines)
        for value, count in Counter(map(_OUTCOME_CELL, lines)).items():
            self.outcomes[_OUTCOME_OF[value]] += count
        self.statuses.update(map(_STATUS_CELL, lines))
        of = ReportRow.of
        for cells in lines:
            if cells[_ERROR] or cells[_OUTCOME] != _OK:
                self._note(of(cells))

    def _note(self, row: ReportRow) -> None:
        if row.outcome is not Outcome.OK:
            self._not_ok(row.outcome, row.fault, row.error, row.row)
        elif row.error.startswith(NOTHING_SENT):  # a guard's read found it done
            self.already_ok += 1
        elif row.error:  # the other note an ok row carries: its answers were lost
            self.read_back_ok += 1
            self.first_read_back_ok = self.first_read_back_ok or row.row

    def describe(self, top: int) -> str:
        lines = [f"{self.rows} rows: " + ", ".join(
            f"{self.outcomes[o]} {o.value}{_share(self.outcomes[o], self.rows)}"
            for o in Outcome)]
        if self.statuses:
            lines.append("HTTP status of each row's last answer:")
            width = max(len(str(n)) for n in self.statuses.values())
            for status, count in sorted(self.statuses.items(), key=_status_order):
                label = status or "none"
                note = "  (never sent, or no answer: timeout, reset)" if not status else ""
                lines.append(f"  {label:<5} {count:>{width}}{note}")
        if self.read_back_ok:
            lines.append(f"{self.read_back_ok} ok row(s) had no success answer; reading the "
                         "conversation back showed the change in effect (first: row "
                         f"{self.first_read_back_ok}; the error column says what came back)")
        if self.already_ok:
            lines.append(f"{self.already_ok} ok row(s) needed nothing: their guard's read "
                         "found the conversation in the target state already (nothing sent)")
        lines += self._describe_errors(top)
        return "\n".join(lines)

    def _describe_errors(self, top: int) -> list[str]:
        if not self.groups:
            return []
        not_ok = self.rows - self.outcomes[Outcome.OK]
        ranked = sorted(self.groups.values(), key=lambda g: -g.count)
        lines = [f"why {not_ok} {plural(not_ok, 'row is', 'rows are')} not ok "
                 f"({counted(len(ranked), 'kind')} of error, "
                 "most frequent first):"]
        for group in ranked[:top]:
            rows = ", ".join(map(str, group.rows)) + (", …" if group.count > len(group.rows)
                                                       else "")
            shown = printable(group.message) or "(no message)"
            varies = "; the values differ from row to row" if group.varies else ""
            lines.append(f"  {counted(group.count, 'row')} {group.outcome.value}: {shown}  "
                         f"[{plural(len(group.rows), 'row')} {rows}{varies}]")
        rest = ranked[top:]
        if rest:
            lines.append(f"  ... and {len(rest)} more kinds ({sum(g.count for g in rest)} "
                         "rows): see the error column of the report, or --top N")
        return lines


def _share(count: int, total: int) -> str:
    if not count or not total or count == total:
        return ""
    percent = count / total * 100
    return f" ({percent:.1f}%)" if percent < 10 else f" ({percent:.0f}%)"


def _status_order(item: tuple[str, int]) -> tuple[int, str]:
    status = item[0]
    return (0, status.zfill(3)) if status else (1, "")


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
