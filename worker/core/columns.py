"""The report's fixed columns, by name: the one place that says which cell is which.

Every report line is `Col` cells in this order, then the job's extra columns unchanged.
A shared type because both sides need it: the report reads and writes these, and the
job-file reader refuses a job whose own columns would collide with them.
"""

from __future__ import annotations

import enum

__all__ = ["REPORT_COLUMNS", "Col"]


class Col(enum.IntEnum):
    """A report column's position; `Col.OUTCOME.label` is its name in the header."""

    ROW = 0
    CONVERSATION_ID = 1
    ACTION = 2
    VALUE = 3
    OUTCOME = 4
    HTTP_STATUS = 5
    ATTEMPTS = 6
    ERROR = 7
    DURATION_MS = 8
    FINISHED_AT = 9
    FAULT = 10  # a failed row's `Fault` ("outage" or "refused"); after the first ten, so
    # a script that reads the older columns by position still finds them

    @property
    def label(self) -> str:
        return self.name.lower()


REPORT_COLUMNS: tuple[str, ...] = tuple(c.label for c in Col)
