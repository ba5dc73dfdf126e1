"""Guards: what a job row expects of its conversation when its change is sent.

A job is built at one moment and sent later; in between a customer may write into a
"stale" conversation, an agent take one by hand, someone close it. A row may say what it
was built on, in optional columns:

- `expect_status`: `open` or `closed`: the conversation must still be so;
- `expect_assignee`: a user id, or `unassigned`: it must still be assigned so;
- `expect_no_message_after`: an ISO 8601 time: no message may have come after it.

An empty cell checks nothing; `worker.core.operations.parse_guard` reads the cells, with
the same user-id rule as the action's. Before the PATCH of a row with any of them, `run`
reads the conversation (`worker.sending.row`): already in the row's target state -> `ok`,
nothing sent; every expectation holds -> the PATCH is sent; one does not -> the row is
not sent, and its outcome is `changed`, with what changed in words (`Guard.broken`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker.core.conversation import ConversationState, iso_utc

__all__ = ["EXPECT_ASSIGNEE", "EXPECT_NO_MESSAGE_AFTER", "EXPECT_STATUS", "GUARD_COLUMNS",
           "NOTHING_SENT", "UNASSIGNED", "Guard"]

EXPECT_STATUS = "expect_status"
EXPECT_ASSIGNEE = "expect_assignee"
EXPECT_NO_MESSAGE_AFTER = "expect_no_message_after"
GUARD_COLUMNS = (EXPECT_STATUS, EXPECT_ASSIGNEE, EXPECT_NO_MESSAGE_AFTER)
# How the error cell of an `ok` row that needed no request begins (the report's counts
# tell it from an ok row whose answer was lost, the only other ok row with a note).
NOTHING_SENT = "nothing sent: already"
UNASSIGNED = "unassigned"


@dataclass(frozen=True, slots=True)
class Guard:
    """A row's expectations; None checks nothing. `assignee` is a user id or 'unassigned'."""

    status: str | None = None
    assignee: str | None = None
    no_message_after: datetime | None = None

    def broken(self, state: ConversationState) -> str | None:
        """What no longer holds, in words ("now assigned to X (the job expected Y)"),
        or None when every expectation holds."""
        why: list[str] = []
        if self.status is not None and state.status != self.status:
            why.append(f"now {state.status} (the job expected it {self.status})")
        if self.assignee is not None and state.assigned != self.assignee:
            now = f"assigned to {state.assignee}" if state.assignee else "unassigned"
            was = (f"assigned to {self.assignee}" if self.assignee != UNASSIGNED
                   else "unassigned")
            why.append(f"now {now} (the job expected {was})")
        after = self.no_message_after
        if after is not None:
            if not state.last_message_known:
                why.append("its last message's date cannot be read, so a message after "
                           f"the job's {iso_utc(after)} cannot be ruled out")
            elif state.last_message_at is not None and state.last_message_at > after:
                why.append(f"a message at {iso_utc(state.last_message_at)} after the job's "
                           f"{iso_utc(after)}")
        return "; ".join(why) or None
