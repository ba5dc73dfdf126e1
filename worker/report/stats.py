"""Counts of a report, and its errors grouped: what `partoo-bulk report R` prints.

Errors are grouped by outcome and by their kind (`worker.report.errorkind`: their text
with the row-specific parts taken out, so that "conversation_id 'abc' is not ..." and
"conversation_id '-5' is not ..." count as one problem). Each group
shows its first message in full and the first rows to look at. Memory is bounded by the
number of distinct problems, capped at `_MAX_GROUPS`; past the cap, new kinds are
counted together as "other errors".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter

from worker.core.columns import Col
from worker.core.guards import NOTHING_SENT
from worker.core.outcomes import Fault, Outcome
from worker.core.text import printable  # one escaping, in core; named here as before
from worker.core.words import counted, plural
from worker.report.errorkind import error_kind
from worker.report.reader import ReportRow

__all__ = ["ReportStats", "error_kind", "printable"]

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


@dataclass
class ReportStats:
    rows: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    groups: dict[tuple[Outcome, str], Group] = field(default_factory=dict)
    failed_on_outage: int = 0  # failed, and not the row's fault (`Fault`): send it again
    read_back_ok: int = 0  # ok rows known only by reading the conversation back
    first_read_back_ok: int = 0
    already_ok: int = 0  # guarded ok rows that needed no request: already in their target

    def add(self, row: ReportRow) -> None:
        self.rows += 1
        self.outcomes[row.outcome] += 1
        self.statuses[row.http_status] += 1
        self._note(row)

    def add_lines(self, lines: list[list[str]]) -> None:
        """`add` for each of these whole report lines (`ReportFile.chunks`), counted with
        C loops: only the lines with something to note (not ok, or an ok with a note in
        its error column) become a `ReportRow`, a few in a million in a good run."""
        self.rows += len(lines)
        for value, count in Counter(map(_OUTCOME_CELL, lines)).items():
            self.outcomes[_OUTCOME_OF[value]] += count
        self.statuses.update(map(_STATUS_CELL, lines))
        note, of = self._note, ReportRow.of
        for cells in lines:
            if cells[_ERROR] or cells[_OUTCOME] != _OK:
                note(of(cells))

    def _note(self, row: ReportRow) -> None:
        """What `add` keeps of a row besides its outcome and status."""
        if row.outcome is Outcome.OK:
            if row.error.startswith(NOTHING_SENT):  # a guard's read found it done
                self.already_ok += 1
            elif row.error:  # the other note an ok row carries: its answers were lost
                self.read_back_ok += 1
                self.first_read_back_ok = self.first_read_back_ok or row.row
            return
        if row.outcome is Outcome.FAILED and row.fault is not Fault.REFUSED:
            self.failed_on_outage += 1
        key = (row.outcome, error_kind(row.error))
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= _MAX_GROUPS:
                key = (row.outcome, _OTHER)
                group = self.groups.setdefault(key, Group(row.outcome, _OTHER))
            else:
                group = self.groups[key] = Group(row.outcome, row.error)
        group.count += 1
        group.varies = group.varies or row.error != group.message
        if len(group.rows) < _SHOWN_ROWS:
            group.rows.append(row.row)

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
