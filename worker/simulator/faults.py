"""Injected trouble: which requests fail, and how. Pure decisions, no HTTP.

Precedence for one PATCH, first match wins:
1. the conversation's script (`FaultInjector.script`), one step consumed per request;
2. `Faults.force_status`, answered to every request without applying it;
3. one random draw against the exclusive probabilities, in the order
   error_before, reset_before, html_error, error_after, reset_after (their sum <= 1),
   plus an independent draw for `slow`, which can delay any outcome (label "...+slow").
GET requests get faults only with `Faults.on_get` (scripts never apply to them).

Draws come from `random.Random(seed)`, reset whenever the faults are replaced, so the
same sequence of requests meets the same faults.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

__all__ = ["Action", "Decision", "FaultInjector", "Faults"]

_EXCLUSIVE = ("error_before", "reset_before", "html_error", "error_after", "reset_after")


@dataclass(frozen=True, slots=True)
class Faults:
    """Fault probabilities (0..1 each) and mode knobs; the default injects nothing.

    error_before: answer 500/502/503 without applying (503 comes with an empty body).
    error_after: apply the change, then answer 500.
    reset_before / reset_after: drop the connection with no HTTP answer, before or after
        applying.
    html_error: answer 502 with a proxy's HTML page, not applied.
    slow / slow_s: with probability `slow`, wait `slow_s` seconds after applying and before
        answering (the nasty case: a client that times out does not know it was applied).
    force_status: answer every request with this status, not applied (500 trips a circuit
        breaker, 401 a revoked key, 429 a throttle with no end).
    retry_after_header: the Retry-After value sent with every 429, verbatim (garbage,
        negative, an HTTP date); "" sends a 429 with no Retry-After at all.
    on_get: apply the same faults to GET requests too.
    problem_json: refusals injected by `force_status` or a script (4xx) are answered as
        RFC 9457 problem+json, as an API gateway or a mock server does, with the reason
        in `detail` and `validation[]` after a long `type` URL.
    json_404: routes that do not exist (a base URL without /v2) answer a JSON 404, as a
        gateway in front of an API does, instead of aiohttp's text page.
    list_loop: the listing goes round: "cursor" gives cursors A -> B -> A; "same_page"
        gives the first page again under a new cursor each time.
    get_answers_id: every GET /conversations/{id} answers conversation N's state (its
        own `id` in it) whatever id was asked, as a cache or gateway keyed on the wrong
        thing would; a client must not take it for the conversation it asked about.
    """

    error_before: float = 0.0
    error_after: float = 0.0
    reset_before: float = 0.0
    reset_after: float = 0.0
    html_error: float = 0.0
    slow: float = 0.0
    slow_s: float = 0.0
    force_status: int | None = None
    retry_after_header: str | None = None
    on_get: bool = False
    problem_json: bool = False
    json_404: bool = False
    list_loop: str | None = None
    get_answers_id: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (*_EXCLUSIVE, "slow"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in 0..1")
        if sum(getattr(self, name) for name in _EXCLUSIVE) > 1.0 + 1e-9:
            raise ValueError(f"{', '.join(_EXCLUSIVE)} must add up to at most 1")
        if self.slow_s < 0:
            raise ValueError("slow_s must be >= 0")
        if self.force_status is not None and not 100 <= self.force_status <= 599:
            raise ValueError("force_status must be an HTTP status")
        if self.list_loop not in (None, "cursor", "same_page"):
            raise ValueError("list_loop must be null, 'cursor' or 'same_page'")
        other = self.get_answers_id
        if other is not None and (isinstance(other, bool) or not isinstance(other, int)
                                  or other <= 0):
            raise ValueError("get_answers_id must be null or a conversation id")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """Build from JSON; unknown keys and bad values raise ValueError."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        try:
            return cls(**data)
        except TypeError as exc:  # a value of the wrong type, e.g. "error_before": "often"
            raise ValueError(str(exc)) from exc

    @property
    def active(self) -> bool:
        return self.force_status is not None or any(
            getattr(self, name) > 0 for name in (*_EXCLUSIVE, "slow")
        )


class Action(StrEnum):
    OK = "ok"  # handle normally
    ANSWER = "answer"  # answer Decision.status, do not apply
    HTML = "html"  # answer 502 text/html, do not apply
    RESET = "reset"  # drop the connection, do not apply
    ERROR_AFTER = "error_after"  # apply, then answer 500
    RESET_AFTER = "reset_after"  # apply, then drop the connection
    LOSE = "lose"  # answer 200 success, do not apply (a change lost behind the API's back)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    label: str | None = None  # what the request log records as `fault`
    status: int | None = None  # for Action.ANSWER
    delay_s: float = 0.0  # wait before answering


OK = Decision(Action.OK)
_SCRIPT_WORDS = {
    "ok": OK,
    "reset": Decision(Action.RESET, "script:reset"),
    "reset_before": Decision(Action.RESET, "script:reset"),
    "reset_after": Decision(Action.RESET_AFTER, "script:reset_after"),
    "error_after": Decision(Action.ERROR_AFTER, "script:error_after"),
    "html": Decision(Action.HTML, "script:html"),
    "html_error": Decision(Action.HTML, "script:html"),
    "lose": Decision(Action.LOSE, "script:lose"),
}


def parse_step(step: str | int) -> Decision:
    """One script step: a word above, an HTTP status ("500", 429), or "slow:<seconds>"."""
    text = str(step).strip().lower()
    if text in _SCRIPT_WORDS:
        return _SCRIPT_WORDS[text]
    if text.startswith("slow:"):
        return Decision(Action.OK, "script:slow", delay_s=float(text[5:]))
    if text.isdigit() and 100 <= int(text) <= 599:
        return Decision(Action.ANSWER, f"script:{text}", status=int(text))
    raise ValueError(f"unknown script step {step!r}")


class FaultInjector:
    """Decides, request by request, what trouble to inject."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._scripts: dict[int, deque[Decision]] = {}
        self.faults = faults or Faults()

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._faults = faults
        self._active = faults.active
        self._rng = random.Random(faults.seed)

    def script(self, conversation_id: int, steps: Iterable[str | int]) -> None:
        """Queue steps for this conversation's next PATCH requests (replaces any queued;
        no steps clears the script)."""
        queue = deque(parse_step(s) for s in steps)
        if queue:
            self._scripts[conversation_id] = queue
        else:
            self._scripts.pop(conversation_id, None)

    def pending(self, conversation_id: int) -> int:
        """Script steps not yet consumed."""
        return len(self._scripts.get(conversation_id, ()))

    def decide(self, conversation_id: int | None, *, is_get: bool = False) -> Decision:
        if self._scripts and not is_get and conversation_id in self._scripts:
            queue = self._scripts[conversation_id]
            step = queue.popleft()
            if not queue:
                del self._scripts[conversation_id]
            return step
        if not self._active or (is_get and not self._faults.on_get):
            return OK
        return self._draw()

    def _draw(self) -> Decision:
        f, rng = self._faults, self._rng
        if f.force_status is not None:
            return Decision(Action.ANSWER, "force_status", status=f.force_status)
        delay_s = f.slow_s if f.slow and rng.random() < f.slow else 0.0
        u = rng.random()
        for name in _EXCLUSIVE:
            p = getattr(f, name)
            if u < p:
                return self._fault(name, delay_s)
            u -= p
        return Decision(Action.OK, "slow", delay_s=delay_s) if delay_s else OK

    def _fault(self, name: str, delay_s: float) -> Decision:
        label = f"{name}+slow" if delay_s else name
        if name == "error_before":
            status = self._rng.choice((500, 502, 503))
            return Decision(Action.ANSWER, label, status=status, delay_s=delay_s)
        action = {"reset_before": Action.RESET, "html_error": Action.HTML,
                  "error_after": Action.ERROR_AFTER, "reset_after": Action.RESET_AFTER}[name]
        return Decision(action, label, delay_s=delay_s)
