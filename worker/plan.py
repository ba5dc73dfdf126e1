"""The plan of a job: what a run would send, counted in one streaming pass, nothing sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from worker.jobfile import Job
from worker.operations import Operation

__all__ = ["Plan", "make_plan"]

_SHOWN_INVALID = 5


@dataclass
class Plan:
    rows: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    invalid: int = 0
    invalid_examples: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return self.rows - self.invalid

    def estimate_s(self, rate_per_minute: float) -> float:
        return self.requests / rate_per_minute * 60

    def describe(self, rate_per_minute: float) -> str:
        lines = [f"{self.rows} rows: " + ", ".join(
            f"{n} {a}" for a, n in sorted(self.actions.items())) + f", {self.invalid} invalid"]
        for example in self.invalid_examples:
            lines.append(f"  invalid: {example}")
        if self.invalid > len(self.invalid_examples):
            lines.append(f"  ... and {self.invalid - len(self.invalid_examples)} more "
                         "invalid rows (all listed in the report)")
        minutes = self.estimate_s(rate_per_minute) / 60
        lines.append(f"{self.requests} requests at {rate_per_minute:g}/min: about "
                     f"{_human(minutes)} (more if the API asks us to slow down)")
        return "\n".join(lines)


def make_plan(job: Job) -> Plan:
    plan = Plan()
    for item in job.items():
        plan.rows += 1
        if isinstance(item, Operation):
            plan.actions[item.action.value] += 1
        else:
            plan.invalid += 1
            if len(plan.invalid_examples) < _SHOWN_INVALID:
                plan.invalid_examples.append(f"row {item.row}: {item.error}")
    return plan


def _human(minutes: float) -> str:
    if minutes < 1:
        return f"{max(1, round(minutes * 60))} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
