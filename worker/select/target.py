"""The action `select` writes for each selected conversation: one for all, or a rotation.

`Target.cell()` gives the value of the job's action column for the next selected
conversation. With a rotation (`--assign-round-robin A,B,C`) the n-th selected
conversation goes to the (n mod 3)-th user, in the order the operator named them: the
counts differ by one at most, and the same listing always gives the same file. (The API
promises no sort order; Partoo and the simulator list by id, so the same set of
conversations is dealt the same way on every run.)
"""

from __future__ import annotations

from collections import Counter

from worker.core.operations import Action, Override, parse_action

__all__ = ["Target", "parse_team"]


class Target:
    def __init__(self, action: Action, value: str = "", team: tuple[str, ...] = ()) -> None:
        if team and action is not Action.ASSIGN:
            raise ValueError("a rotation is an assignment")
        self.action = action
        self.value = value
        self.team = team
        self.dealt: Counter[str] = Counter()
        self._next = 0

    @classmethod
    def fixed(cls, override: Override) -> Target:
        return cls(override.action, override.value)

    @classmethod
    def rotation(cls, team: tuple[str, ...]) -> Target:
        return cls(Action.ASSIGN, "", team)

    @property
    def column(self) -> str:
        """The job file's action column: the API's own field name."""
        return self.action.field.value

    @property
    def fixed_user(self) -> str | None:
        """The one user every row is assigned to; None for other actions and rotations."""
        return self.value if self.action is Action.ASSIGN and not self.team else None

    def cell(self) -> str:
        """The action cell for the next selected conversation (a rotation moves on)."""
        if self.team:
            value = self.team[self._next % len(self.team)]
            self._next += 1
        else:
            value = self.action.target(self.value)
        self.dealt[value] += 1
        return value

    def describe(self) -> str:
        if self.team:
            return "assign in turn to " + ", ".join(
                f"{user} ({self.dealt[user]})" for user in self.team)
        if self.action is Action.ASSIGN:
            return f"assign to {self.value}"
        return self.action.value


def parse_team(text: str, leaver: str | None = None) -> tuple[str, ...]:
    """`A,B,C` as user ids, in order. ValueError (with the fix) for anything doubtful."""
    names = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise ValueError(f"{text!r} has an empty user id: list ids separated by commas, "
                         "e.g. --assign-round-robin ID1,ID2")
    for name in names:
        action, _value = parse_action("", name)
        if action is not Action.ASSIGN:
            raise ValueError("'unassigned' is not a user: to unassign, use --action unassign")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{', '.join(repeated)} named more than once: each user once, "
                         "or the share would not be even")
    if leaver is not None and leaver in names:
        raise ValueError(f"{leaver} is both --assigned-to and in the rotation: their "
                         "conversations would go back to them; leave them out of the list")
    return tuple(names)
