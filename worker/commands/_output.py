"""Output for scripts: `--json` documents on stdout, and `-` for stdin / stdout.

Every `--json` document is one JSON object on stdout with `schema_version` (bumped only
when a key changes meaning or goes away; new keys may appear in any version),
`tool_version` and `command`; paths are absolute. On an error the document holds
`exit_code` and `error` instead (the message is on stderr too).

`guarded_stdout()`: for the length of a command, a write to stdout that fails (a pipe
whose reader left, as `| head` does; a full disk; a closed descriptor) never raises into
the command: its files are written whatever happens to its text, and the CLI says once,
at the end, that stdout was lost (`StdoutGuard.error`).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from worker.core.filepath import is_stdio

__all__ = ["SCHEMA_VERSION", "StdoutGuard", "absolute", "add_json_flag", "document",
           "guarded_stdout", "print_json", "private_folder", "spool_stdin"]

SCHEMA_VERSION = 1


def add_json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print one JSON document on stdout instead of the text (for "
                   "scripts; README: JSON output)")


def document(command: str, **fields: Any) -> dict[str, Any]:
    from worker import __version__

    return {"schema_version": SCHEMA_VERSION, "tool_version": __version__,
            "command": command, **fields}


def print_json(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False), flush=True)


def absolute(path: Path | str | None) -> str | None:
    if path is None:
        return None
    return str(path) if is_stdio(path) else str(Path(path).absolute())


def spool_stdin(folder: Path) -> Path:
    """Read all of stdin once into a private file in `folder`: the job is then read as
    often as a command needs (a pipe can be read only once)."""
    from worker.jobfile.pinned import stdin_bytes

    out = folder / "stdin.csv"
    with open(out, "wb") as f:
        shutil.copyfileobj(stdin_bytes(), f)
    return out


def private_folder() -> tempfile.TemporaryDirectory[str]:
    """A folder only we can read (mode 700), removed when done."""
    return tempfile.TemporaryDirectory(prefix="partoo-bulk-")


class StdoutGuard:
    """sys.stdout whose writes never raise: the first `OSError` is kept in `error`, and
    what follows is dropped (stdout is pointed at /dev/null, so that Python's own flush
    at exit does not fail on the same pipe)."""

    def __init__(self, real: TextIO) -> None:
        self._real = real
        self.error: OSError | None = None

    @property
    def broken_pipe(self) -> bool:
        """The reader went away (`| head`): nothing to say, as with any Unix tool."""
        return self.error is not None and self.error.errno in (errno.EPIPE, errno.ECONNRESET)

    def write(self, text: str) -> int:
        if self.error is None:
            try:
                return self._real.write(text)
            except OSError as exc:
                self._lost(exc)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.error is None:
            try:
                self._real.flush()
            except OSError as exc:
                self._lost(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _lost(self, exc: OSError) -> None:
        self.error = exc
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._real.fileno())
            os.close(devnull)


@contextlib.contextmanager
def guarded_stdout() -> Iterator[StdoutGuard | None]:
    """sys.stdout as a `StdoutGuard` for the block (None when there is no stdout at all:
    `>&-` leaves Python a None, and print() then writes nothing)."""
    real = sys.stdout
    if real is None:
        yield None
        return
    guard = StdoutGuard(real)
    sys.stdout = guard
    try:
        yield guard
    finally:
        guard.flush()
        sys.stdout = real
