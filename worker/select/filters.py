"""Which listed conversations go into a job: the filters, in order, each one counted.

    listed once -> business -> solved state -> assignee -> stale -> the action's own rules
    (an expired conversation cannot be re-opened; one already in the target state needs
    no request)

Each filter sees only what the earlier ones kept, so the counts read as a funnel and the
operator sees why every conversation left. A filter that cannot tell (a field missing or
unreadable) drops the conversation and counts it apart: a bulk change never acts on a
guess. The action's own rules go the other way: when they cannot tell, they keep the
conversation and let the API decide (a refused row is reported, never lost).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from worker.core.operations import Action
from worker.select.listed import Listed, format_date
from worker.select.target import Target

__all__ = ["Criteria", "Funnel", "Step", "build_funnel"]

Verdict = bool | None  # True keep, False drop, None cannot tell (dropped, counted apart)

# Ids remembered to drop a conversation listed twice. Cursors are not promised to stay
# valid while records change; if they shift, repeats land near a page boundary, so a few
# pages of memory catch them without holding a million ids.
_RECENT_IDS = 1000


@dataclass(frozen=True, slots=True)
class Criteria:
    """The operator's filters. Empty / None means "do not filter on this"."""

    businesses: frozenset[str] = frozenset()
    solved: bool | None = None  # --solved True, --unsolved False
    assigned_to: str | None = None
    unassigned: bool = False
    stale_before: datetime | None = None  # last activity at or before this moment
    stale_days: int | None = None  # only to say it in the counts
    skip_expired: bool = False


@dataclass(slots=True)
class Step:
    label: str
    test: Callable[[Listed], Verdict]
    unknown_means: str = "that could not be told"
    shown_when_idle: bool = True  # False: a line only when it dropped something
    kept: int = 0
    dropped: int = 0
    unknown: int = 0

    def line(self) -> str:
        text = f"  {self.label}: {self.kept} kept, {self.dropped} dropped"
        return text + (f", {self.unknown} {self.unknown_means} (dropped)" if self.unknown
                       else "")


@dataclass(slots=True)
class Funnel:
    steps: list[Step]
    passed: int = 0
    _recent: deque[int] = field(default_factory=lambda: deque(maxlen=_RECENT_IDS))
    _recent_set: set[int] = field(default_factory=set)

    def admit(self, conv: Listed) -> bool:
        """True when `conv` passes every filter; counts it at the filter that stops it."""
        for step in self.steps:
            verdict = step.test(conv)
            if verdict is None:
                step.unknown += 1
                return False
            if not verdict:
                step.dropped += 1
                return False
            step.kept += 1
        self.passed += 1
        return True

    def first_time(self, conv: Listed) -> Verdict:
        if conv.id in self._recent_set:
            return False
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(conv.id)
        self._recent_set.add(conv.id)
        return True

    def lines(self) -> list[str]:
        return [step.line() for step in self.steps
                if step.shown_when_idle or step.dropped or step.unknown]


def build_funnel(criteria: Criteria, target: Target) -> Funnel:
    funnel = Funnel([])
    steps = funnel.steps
    steps.append(Step("listed once (the API repeated some)", funnel.first_time,
                      shown_when_idle=False))
    if criteria.businesses:
        wanted = criteria.businesses
        steps.append(Step(f"business in {','.join(sorted(wanted))}",
                          lambda c: None if c.business_id is None else c.business_id in wanted,
                          "without a business id"))
    if criteria.solved is not None:
        solved = criteria.solved
        steps.append(Step("solved" if solved else "unsolved",
                          lambda c: None if c.is_solved is None else c.is_solved == solved,
                          "without a readable is_solved"))
    if criteria.assigned_to is not None:
        user = criteria.assigned_to
        steps.append(Step(f"assigned to {user}",
                          lambda c: c.assignee == user if c.assignee_known else None,
                          "without assigned_user_id"))
    elif criteria.unassigned:
        steps.append(Step("unassigned",
                          lambda c: c.assignee is None if c.assignee_known else None,
                          "without assigned_user_id"))
    if criteria.stale_before is not None:
        before = criteria.stale_before
        steps.append(Step(f"no activity for {criteria.stale_days} days (last message, else "
                          f"creation, at or before {format_date(before)})",
                          lambda c: None if c.last_activity is None else c.last_activity <= before,
                          "without a readable date"))
    steps.extend(_action_rules(criteria, target))
    return funnel


def _action_rules(criteria: Criteria, target: Target) -> list[Step]:
    """The action's own rules. Unknown keeps the conversation: the API will decide."""
    steps = []
    if criteria.skip_expired or target.action is Action.OPEN:
        why = ("an expired conversation cannot be re-opened" if target.action is Action.OPEN
               else "--skip-expired")
        steps.append(Step(f"not expired ({why})", lambda c: c.is_expired is not True))
    if target.action is Action.CLOSE:
        steps.append(Step("not already solved", lambda c: c.is_solved is not True))
    elif target.action is Action.OPEN:
        steps.append(Step("not already open", lambda c: c.is_solved is not False))
    elif target.action is Action.UNASSIGN:
        steps.append(Step("not already unassigned",
                          lambda c: not (c.assignee_known and c.assignee is None)))
    elif target.fixed_user is not None:
        user = target.fixed_user
        steps.append(Step(f"not already assigned to {user}", lambda c: c.assignee != user))
    return steps
