"""Column names: a job's own columns (`JOB_COLUMNS`) and the report's fixed columns
(`Col`), the one place that says which cell is which.

Every report line is `Col` cells in this order, then the job's extra columns unchanged.
A shared type because both sides need it: the report reads and writes these, and the
job-file reader refuses a job whose own columns would collide with them.
"""

from __future__ import annotations

import enum

from worker.core.operations import Field

__all__ = ["ID_COLUMN", "JOB_COLUMNS", "REPORT_COLUMNS", "Col"]

ID_COLUMN = "conversation_id"
# A job's own columns, in the order every job file we write has them (`select`, `report
# --failed`, the undo job): the id, then one column per `Field`, named as the API names it.
JOB_COLUMNS: tuple[str, ...] = (ID_COLUMN, *(f.value for f in Field))


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
