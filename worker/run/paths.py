"""Every file a run writes is its own: none is the job, none is another output.

`run same.csv --report same.csv --overwrite` would delete the job before reading it;
`--report X --undo-out X` would replace the report with the undo job. `check_distinct`
goes through every file a run may write (`worker.files.runfiles.RunFiles`: the outputs
named by flags and the side files beside them, lock and temporary files included) and
refuses, before anything is touched, when two of them, or one of them and the job, are
the same file: the same path once symlinks are resolved, or for files that exist, the
same inode (a hard link). A symbolic link where a side file goes is refused too: the run
would not write through it (`worker.files.atomic`), and whoever left it should know.

The job's own copy (`R.job.csv`, `worker.jobfile.pinned`) may be the job: a resume of a job
read from stdin names it.
"""

from __future__ import annotations

import os
from pathlib import Path

from worker.core.errors import ConfigError
from worker.core.filepath import is_stdio
from worker.files.runfiles import RunFiles, SideFile

__all__ = ["PathClash", "check_distinct"]


class PathClash(ConfigError):
    """Two paths a run was given are one file (or a side file is a link).
    `summary_json_clash` / `metrics_clash`: the summary (metrics) path is one of them, so
    not even the error may be written there."""

    def __init__(self, message: str, *, summary_json_clash: bool,
                 metrics_clash: bool = False) -> None:
        super().__init__(message)
        self.summary_json_clash = summary_json_clash
        self.metrics_clash = metrics_clash


def check_distinct(job: Path, report: Path, undo_out: Path | None,
                   summary_json: Path | None, metrics_out: Path | None = None) -> None:
    """Raise `PathClash` unless every output is a file of its own, none is the job, and
    no side file is a symbolic link."""
    files = RunFiles.of(report, undo_out, summary_json, metrics_out)
    for out in files.all():
        if not out.named_by_flag and os.path.islink(out.path):
            raise PathClash(f"{out.path}: a symbolic link is where partoo-bulk keeps "
                            f"{out.what} of {out.flag} {_flag_path(files, out.flag)}; "
                            "nothing was touched. A run never writes through a link beside "
                            "its files: remove it, then run again",
                            summary_json_clash=out.flag == "--summary-json",
                            metrics_clash=out.flag == "--metrics-out")
    seen: dict[object, SideFile] = {}
    if not is_stdio(job):
        seen[_identity(job)] = SideFile("", "the job file", job)
    spool = _identity(files.job_copy)
    for out in files.all():
        key = _identity(out.path)
        first = seen.get(key)
        if first is None:
            seen[key] = out
        elif not (key == spool and not first.flag):  # the job may be its own copy
            raise PathClash(_message(first, out),
                            summary_json_clash="--summary-json" in (first.flag, out.flag),
                            metrics_clash="--metrics-out" in (first.flag, out.flag))


def _flag_path(files: RunFiles, flag: str) -> Path | None:
    return {"--report": files.report, "--undo-out": files.undo,
            "--summary-json": files.summary_json, "--metrics-out": files.metrics}[flag]


def _identity(path: Path) -> object:
    """What makes two paths one file: its inode if it exists, else its resolved path."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)


def _describe(out: SideFile) -> str:
    if out.named_by_flag or not out.flag:
        return f"{out.what} {out.path}"
    return f"{out.what} {out.path} (beside {out.flag})"


def _message(first: SideFile, second: SideFile) -> str:
    victim = "the job" if not first.flag else "the other"
    return (f"{_describe(second)} is the same file as {_describe(first)}: writing it would "
            f"destroy {victim}. Nothing was touched: give {second.flag} a path of its own")
