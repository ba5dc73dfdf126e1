"""Every file a run writes is its own: none is the job, none is another output.

`run same.csv --report same.csv --overwrite` would delete the job before reading it;
`--report X --undo-out X` would replace the report with the undo job. `check_distinct`
lists each file a run may write (the outputs named by flags, and the side files derived
from them, each from the function that owns its name) and refuses, before anything is
touched, when two of them, or one of them and the job, are the same file: the same path
once symlinks are resolved, or for files that exist, the same inode (a hard link).

The job's own copy (`R.job.csv`, `worker.jobfile.pinned`) may be the job: a resume of a job
read from stdin names it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from worker.core.errors import ConfigError
from worker.core.stdio import is_stdio
from worker.jobfile.pinned import spool_path
from worker.jobfile.undojob import not_restorable_path
from worker.report.ahead import ahead_path
from worker.report.lock import lock_path
from worker.report.meta import meta_path
from worker.report.resume import partial_path
from worker.run.undo import journal_path

__all__ = ["PathClash", "check_distinct"]


class PathClash(ConfigError):
    """Two paths a run was given are one file. `summary_json_clash`: the summary path is
    one of them, so not even the error may be written there."""

    def __init__(self, message: str, *, summary_json_clash: bool) -> None:
        super().__init__(message)
        self.summary_json_clash = summary_json_clash


def check_distinct(job: Path, report: Path, undo_out: Path | None,
                   summary_json: Path | None) -> None:
    """Raise `PathClash` unless every output is a file of its own, and none is the job."""
    seen: dict[object, _Output] = {}
    if not is_stdio(job):
        seen[_identity(job)] = _Output("", "the job file", job)
    spool = _identity(spool_path(report))
    for out in _outputs(report, undo_out, summary_json):
        key = _identity(out.path)
        first = seen.get(key)
        if first is None:
            seen[key] = out
        elif not (key == spool and not first.flag):  # the job may be its own copy
            raise PathClash(_message(first, out),
                            summary_json_clash="--summary-json" in (first.flag, out.flag))


class _Output(NamedTuple):
    flag: str  # the flag it comes from ("" for the job)
    what: str  # what it is, in a message
    path: Path


def _outputs(report: Path, undo_out: Path | None, summary_json: Path | None) -> list[_Output]:
    r, u, s = "--report", "--undo-out", "--summary-json"
    found = [_Output(r, r, report),
             _Output(r, "the partial report", partial_path(report)),
             _Output(r, "the meta file", meta_path(report)),
             _Output(r, "the rows-ahead file", ahead_path(report)),
             _Output(r, "the lock file", lock_path(report)),
             _Output(r, "the job's copy", spool_path(report)),
             _Output(r, "a temporary file", report.with_name(report.name + ".tmp"))]
    if undo_out is not None:
        found += [_Output(u, u, undo_out),
                  _Output(u, "the undo journal", journal_path(undo_out)),
                  _Output(u, "the not-restorable list", not_restorable_path(undo_out)),
                  _Output(u, "the lock file", lock_path(undo_out)),
                  _Output(u, "a temporary file", undo_out.with_name(undo_out.name + ".tmp"))]
    if summary_json is not None:
        found += [_Output(s, s, summary_json),
                  _Output(s, "a temporary file",
                          summary_json.with_name(summary_json.name + ".tmp"))]
    return found


def _identity(path: Path) -> object:
    """What makes two paths one file: its inode if it exists, else its resolved path."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)


def _describe(out: _Output) -> str:
    if out.what == out.flag or not out.flag:
        return f"{out.what} {out.path}"
    return f"{out.what} {out.path} (beside {out.flag})"


def _message(first: _Output, second: _Output) -> str:
    victim = "the job" if not first.flag else "the other"
    return (f"{_describe(second)} is the same file as {_describe(first)}: writing it would "
            f"destroy {victim}. Nothing was touched: give {second.flag} a path of its own")
