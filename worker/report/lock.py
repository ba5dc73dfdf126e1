"""One run per report: an exclusive OS lock on `R.lock` for the run's whole life.

Two runs writing one report send rows twice, at double the rate, and the slower one
overwrites the undo file or writes into a report the other deleted. `hold(files)`
takes an exclusive OS lock without waiting (`worker.files.oslock`: `flock` on POSIX,
`msvcrt.locking` on Windows) on `R.lock` (and on `UNDO.lock` with `--undo-out`, whose
journal two runs of different reports could otherwise share) before any output is
touched, and keeps it until the run has renamed its last file; a canary's two parts are
one run under one lock. The names come from `RunFiles`, whose report and undo paths are
the files a link points to: `--report link.csv` and `--report real.csv` take one lock.

- The kernel releases a `flock` when its process dies, kill -9 included: a lock is never
  stale, so there is nothing to clean up and no age to guess.
- The lock file is opened without following a link: one planted there is refused, and
  what it points to is left alone.
- The lock file is never deleted: another process may have just opened it, and a lock on
  an unlinked file would lock nothing that the next run can see.
- Once locked, the holder writes its pid and start time into the file, for the message a
  second run gets (`ReportError`, exit 2, nothing sent): who holds it and what to do.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from worker.core.errors import ReportError
from worker.files import oslock
from worker.files.atomic import LinkInTheWay, open_nofollow
from worker.files.runfiles import RunFiles, lock_of

__all__ = ["hold"]

_READ_TRIES = 20  # the holder writes who it is right after locking: give it a moment


@contextmanager
def hold(files: RunFiles) -> Iterator[None]:
    """Hold the report's lock (and the undo file's) until the block ends."""
    with ExitStack() as stack:
        stack.enter_context(_locked(files.report, "--report"))
        if files.undo is not None:
            stack.enter_context(_locked(files.undo, "--undo-out"))
        yield


@contextmanager
def _locked(path: Path, flag: str) -> Iterator[None]:
    lock = lock_of(path)
    try:
        fd = open_nofollow(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except LinkInTheWay:
        raise ReportError(f"{lock}: is a symbolic link where the lock file of {flag} "
                          f"{path} goes; nothing was sent. partoo-bulk never writes through "
                          "a link beside a report: remove it, then run again") from None
    except OSError as exc:
        raise ReportError(f"{lock}: cannot create the lock file of {flag} {path} "
                          f"({exc.strerror}): check that its folder is writable") from None
    try:
        try:
            locked = oslock.try_lock(fd)
        except OSError as exc:  # a file system without locks (some network mounts)
            raise ReportError(f"{lock}: cannot lock it ({exc.strerror}): put {flag} on a "
                              "local disk") from None
        if not locked:
            raise ReportError(_in_use(path, flag, lock, fd))
        try:
            _write_holder(fd)
            yield
        finally:
            oslock.unlock(fd)
    finally:
        os.close(fd)  # releases the lock; the file stays (see the module docstring)


def _write_holder(fd: int) -> None:
    since = datetime.now(UTC).isoformat(timespec="seconds")
    data = json.dumps({"pid": os.getpid(), "since": since}) + "\n"
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)  # no pwrite on Windows; the fd is ours alone
        os.write(fd, data.encode())
    except OSError:
        pass  # only for another run's message; the lock itself is what protects


def _in_use(path: Path, flag: str, lock: Path, fd: int) -> str:
    holder = _read_holder(fd)
    if holder and holder["pid"] == os.getpid():
        # The Python API: two runs in one process (two threads, two tasks). `kill` would
        # stop the caller itself.
        return (f"{flag} {path} is in use by another run in this process (since "
                f"{holder['since']}); nothing was sent. Wait for that run to end (or "
                "cancel its task), then run again, or give this run a report of its own")
    who = (f"pid {holder['pid']}, since {holder['since']}" if holder
           else f"a process that holds {lock.name}")
    pid = holder["pid"] if holder else "PID"
    return (f"{flag} {path} is in use by another run ({who}); nothing was sent. Wait for "
            f"it to end, or stop it (kill {pid}: it stops cleanly and its report can be "
            "finished with --resume), then run again")


def _read_holder(fd: int) -> dict[str, object] | None:
    for _ in range(_READ_TRIES):
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            data = json.loads(os.read(fd, 4096) or b"null")
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and {"pid", "since"} <= set(data):
            return data
        time.sleep(0.01)
    return None
