"""What one row's requests have spent: the `Tally` its work keeps, its retry policy reads,
and its `Result` is built from (`worker.sending.results`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tally"]


@dataclass(slots=True)
class Tally:
    """What one operation has spent: requests, 429s, seconds paused on 429s."""

    requests: int = 0
    ok: int = 0  # of `requests`, those that succeeded (a state read before the change)
    reads: int = 0  # of `requests`, the undo-capture GETs
    throttled: int = 0
    throttled_wait_s: float = 0.0
    asked_wait_s: float = 0.0  # the longest Retry-After the server asked for
    first_sent_at: float | None = None  # loop time the first request went out
    cut_in_flight: bool = False  # cancelled while a request was out: it may have landed
    maybe_applied: bool = False  # an answer to the change left open whether it landed
    last_status: int | None = None  # the HTTP status of the last answer, if one came
    last_error: str = ""  # what the last failed request met, for a row left unfinished

    @property
    def failures(self) -> int:
        """Requests that failed for a reason other than a 429: what `max_attempts` counts."""
        return self.requests - self.throttled - self.ok

    def add_reads(self, other: Tally) -> None:
        """Count `other`'s requests (all reads) as this operation's too."""
        self.requests += other.requests
        self.reads += other.reads
        self.ok += other.ok
        self.throttled += other.throttled
        self.throttled_wait_s += other.throttled_wait_s
