"""What a `select` did, for its last line (text) or its `--json` document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worker.core.text import counted
from worker.select.filters import Funnel
from worker.select.pager import ListingStats
from worker.select.target import Target

__all__ = ["Selected"]


@dataclass
class Selected:
    exit_code: int
    out: str  # the job file, or "-" for stdout
    listed: int = 0
    unreadable: int = 0  # listed without a usable id: dropped
    wall_s: float = 0.0
    stats: ListingStats = field(default_factory=ListingStats)
    funnel: Funnel | None = None
    target: Target | None = None

    @property
    def selected(self) -> int:
        return 0 if self.funnel is None else self.funnel.passed

    def line(self) -> str:
        s = self.stats
        what = "" if self.target is None else f" ({self.target.describe()})"
        return (f"selected {self.selected} conversations{what} | {counted(s.pages, 'page')}, "
                f"{counted(s.requests, 'request')}, {s.throttled} x 429, {s.retries} retries | "
                f"{self.wall_s:.1f}s | job: {self.out}")

    def as_dict(self) -> dict[str, Any]:
        s = self.stats
        steps = [] if self.funnel is None else self.funnel.steps
        return {
            "selected": self.selected, "listed": self.listed,
            "listed_by_the_api": s.count, "without_usable_id": self.unreadable,
            "filters": [{"filter": st.label, "kept": st.kept, "dropped": st.dropped,
                         "could_not_tell": st.unknown} for st in steps],
            "action": None if self.target is None else self.target.describe(),
            "pages": s.pages, "requests": s.requests, "http_429": s.throttled,
            "retries": s.retries, "wall_time_s": round(self.wall_s, 3)}


