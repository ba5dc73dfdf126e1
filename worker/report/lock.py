"""One run per report: an exclusive OS lock on `R.lock` for the run's whole life.

Two runs writing one report send rows twice, at double the rate, and the slower one
overwrites the undo file or writes into a report the other deleted. `hold(report, undo)`
takes `fcntl.flock(LOCK_EX | LOCK_NB)` on `R.lock` (and on `UNDO.lock` with
`--undo-out`, whose journal two runs of different reports could otherwise share) before
any output is touched, and keeps it until the run has renamed its last file.

- The kernel releases a `flock` when its process dies, kill -9 included: a lock is never
  stale, so there is nothing to clean up and no age to guess.
- The lock file is never deleted: another process may have just opened it, and a lock on
  an unlinked file would lock nothing that the next run can see.
- Once locked, the holder writes its pid and start time into the file, for the message a
  second run gets (`ReportError`, exit 2, nothing sent): who holds it and what to do.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from worker.core.errors import ReportError

__all__ = ["hold", "lock_path"]

_READ_TRIES = 20  # the holder writes who it is right after locking: give it a moment


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextmanager
def hold(report: Path, undo_out: Path | None = None) -> Iterator[None]:
    """Hold the report's lock (and the undo file's) until the block ends."""
    with ExitStack() as stack:
        stack.enter_context(_locked(report, "--report"))
        if undo_out is not None:
            stack.enter_context(_locked(undo_out, "--undo-out"))
        yield


@contextmanager
def _locked(path: Path, flag: str) -> Iterator[None]:
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ReportError(f"{lock}: cannot create the lock file of {flag} {path} "
                          f"({exc.strerror}): check that its folder is writable") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReportError(_in_use(path, flag, lock, fd)) from None
        except OSError as exc:  # a file system without locks (some network mounts)
            raise ReportError(f"{lock}: cannot lock it ({exc.strerror}): put {flag} on a "
                              "local disk") from None
        _write_holder(fd)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (see the module docstring)


def _write_holder(fd: int) -> None:
    since = datetime.now(UTC).isoformat(timespec="seconds")
    data = json.dumps({"pid": os.getpid(), "since": since}) + "\n"
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data.encode(), 0)
    except OSError:
        pass  # only for another run's message; the lock itself is what protects


def _in_use(path: Path, flag: str, lock: Path, fd: int) -> str:
    holder = _read_holder(fd)
    who = (f"pid {holder['pid']}, since {holder['since']}" if holder
           else f"a process that holds {lock.name}")
    pid = holder["pid"] if holder else "PID"
    return (f"{flag} {path} is in use by another run ({who}); nothing was sent. Wait for "
            f"it to end, or stop it (kill {pid}: it stops cleanly and its report can be "
            "finished with --resume), then run again")


def _read_holder(fd: int) -> dict[str, object] | None:
    for _ in range(_READ_TRIES):
        try:
            data = json.loads(os.pread(fd, 4096, 0) or b"null")
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and {"pid", "since"} <= set(data):
            return data
        time.sleep(0.01)
    return None
