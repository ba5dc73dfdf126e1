"""Exit codes: the one table every command's code comes from, and the one rule from a
run's stop and rows to its code.

README's "Exit codes" table documents these (a test checks the two agree). The same
number means the same thing for every command: 1 is "done, but look" (rows failed or
invalid, conversations that differ, a canary that did not hold), 3 is "had to stop"
(a bad key, the API down, a file of ours unwritable), never a usage error, which is 2.
"""

from __future__ import annotations

import enum

from worker.core.stops import Stop, StopReason

__all__ = ["ExitCode", "exit_code"]


class ExitCode(enum.IntEnum):
    # all ok, or rightly not sent: `changed` (run); valid (plan); holding (verify); read
    # (report); written (select)
    OK = 0
    FAILED = 1  # done, but rows failed or invalid, or differ (verify); a canary held back
    COULD_NOT_START = 2  # usage, settings, files, API unreachable: nothing was sent
    # A started run had to stop: 401, the breaker, refusals, a file of ours, a bug; or its
    # --finish-by window closed with rows left; `report` of a run that did not finish.
    ABORTED = 3
    INTERRUPTED = 130  # SIGINT/SIGTERM (128 + SIGINT, as shells report it)
    # stdout closed or unwritable (`| head`), for a command whose product is its stdout
    # (128 + SIGPIPE, as shells report a tool the signal killed); `run` keeps its own code
    STDOUT_LOST = 141


def exit_code(stop: Stop | StopReason | None, *, all_ok: bool) -> ExitCode:
    """A run's (or a read's) code: from why it stopped, if it did, else from its rows."""
    reason = stop.reason if isinstance(stop, Stop) else stop
    if reason is None:
        return ExitCode.OK if all_ok else ExitCode.FAILED
    # A closed window is no failure, but like an abort it leaves rows for --resume.
    if reason.aborted or reason is StopReason.WINDOW:
        return ExitCode.ABORTED
    if reason is StopReason.INTERRUPTED:
        return ExitCode.INTERRUPTED
    return ExitCode.FAILED  # a canary held back on purpose: the operator decides
