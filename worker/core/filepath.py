"""What a path given for a file must look like before anything opens it.

`""`, `.`, `/`, `..` and `out/` name folders, not files: `Path("")` is `.`, whose name
is empty, so every name derived from it (`R.lock`, `R.job.csv`) fails deep inside a run
with a `ValueError`; and `out/` is read by `Path` as the file `out`. Refused here, with
the fix, whoever asks (the CLI's flags, the Python API).

`-` for a path (`STDIO`, `is_stdio`): stdin where a file is read (a job), stdout where
one is written (`select --out -`, `report --failed -`): the one marker, the one test.

`check_replaceable`: the one stat here. Our outputs are written to a temporary file and
renamed over the path; a path that exists and is not a regular file (a device such as
/dev/null, a folder, a FIFO) must never be renamed over: as root, `--summary-json
/dev/null` would replace the machine's /dev/null with a regular file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from worker.core.errors import ConfigError

__all__ = ["STDIO", "check_replaceable", "file_path", "is_special", "is_stdio"]

STDIO = "-"


def is_stdio(path: object) -> bool:
    """Does this path (a str or a Path) mean stdin or stdout?"""
    return str(path) == STDIO


def file_path(path: str | os.PathLike[str], what: str = "") -> str:
    """`path` as given, if it can name a file; else `ConfigError` saying so (`what`
    names it in the message: "--report", "report=")."""
    raw = os.fspath(path)
    where = f"{what} " if what else ""
    if not raw.strip():
        raise ConfigError(f"{where}'': the path is empty: give a file's path")
    last = raw.rstrip().rsplit(os.sep, 1)[-1]
    if last in ("", ".", ".."):
        example = os.path.join(raw, "FILE")
        raise ConfigError(f"{where}{raw}: names a folder, not a file: give a file's path, "
                          f"such as {example}")
    return raw


def is_special(path: Path | str) -> bool:
    """`path` exists and is not a regular file (links followed): never rename over it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # missing (or unreadable: the write says why)
    return not stat.S_ISREG(mode)


def check_replaceable(path: Path | str, what: str) -> None:
    """`ConfigError` unless `path` is missing or a regular file (see the docstring)."""
    if is_special(path):
        kind = "a folder" if os.path.isdir(path) else "a device or a pipe"
        raise ConfigError(f"{what} {path}: is {kind}, not a regular file: give the path of "
                          "a file")
