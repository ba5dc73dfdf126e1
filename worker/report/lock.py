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
- A run refused before it starts leaves the lock file as it found it: `hold` yields a
  `Hold`, and unless the run calls `keep()` (once every check passed,
  `worker.run.runner`), a lock file this run created is removed while still locked, and
  one that was there (an earlier run's) gets its bytes back. A lock file that was there
  before is never removed, and one another process holds is never touched (not locked,
  not written).
- Another process may have opened that file just before it went: so every taker, once
  it has the lock, checks that the file it locked is still the one at the path, and
  opens the one there now if not. Without that check a lock on an unlinked file would
  lock nothing that the next run can see.
- Once locked, the holder writes its pid and start time into the file, for the message a
  second run gets (`ReportError`, exit 2, nothing sent): who holds it and what to do.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from worker.core.clock import utc_now_s
from worker.core.errors import ReportError
from worker.files import oslock
from worker.files.atomic import LinkInTheWay, open_nofollow
from worker.files.runfiles import RunFiles, lock_of

__all__ = ["Hold", "hold"]

_READ_TRIES = 20  # the holder writes who it is right after locking: give it a moment
_OPEN_TRIES = 20  # a lock file removed and made again each time: something else is at work
_HOLDER_MAX = 4096  # the pid and start time are a few dozen bytes


class Hold:
    """The locks of one run, held: `keep()` once the run starts, to keep the lock files
    it made (a resume, a run that sent, a run that was killed: as any run's)."""

    def __init__(self) -> None:
        self.kept = False

    def keep(self) -> None:
        self.kept = True


@contextmanager
def hold(files: RunFiles) -> Iterator[Hold]:
    """Hold the report's lock (and the undo file's) until the block ends."""
    held = Hold()
    with ExitStack() as stack:
        stack.enter_context(_locked(files.report, "--report", held))
        if files.undo is not None:
            stack.enter_context(_locked(files.undo, "--undo-out", held))
        yield held


@contextmanager
def _locked(path: Path, flag: str, held: Hold) -> Iterator[None]:
    lock = lock_of(path)
    fd, made = _lock(path, flag, lock)
    try:
        found = b"" if made else _read_all(fd)
        try:
            _write_holder(fd, json.dumps({"pid": os.getpid(), "since": utc_now_s()}).encode()
                          + b"\n")
            yield
        finally:
            if not held.kept:  # refused before it started: the file as it was, or none
                if made:
                    _remove(fd, lock)
                else:
                    _write_holder(fd, found)
            oslock.unlock(fd)
    finally:
        os.close(fd)  # releases the lock


def _lock(path: Path, flag: str, lock: Path) -> tuple[int, bool]:
    """The lock file's descriptor, locked, and whether this run created the file."""
    for _ in range(_OPEN_TRIES):
        fd, made = _open(path, flag, lock)
        try:
            try:
                locked = oslock.try_lock(fd)
            except OSError as exc:  # a file system without locks (some network mounts)
                raise ReportError(f"{lock}: cannot lock it ({exc.strerror}): put {flag} on "
                                  "a local disk") from None
            if not locked:
                raise ReportError(_in_use(path, flag, lock, fd))
        except BaseException:
            os.close(fd)
            raise
        if _is_at(fd, lock):
            return fd, made
        os.close(fd)  # its creator, refused, removed it meanwhile: lock the one there now
    raise ReportError(f"{lock}: the lock file of {flag} {path} keeps being replaced while "
                      "this run takes it; nothing was sent. Check what else writes in that "
                      "folder, then run again")


def _open(path: Path, flag: str, lock: Path) -> tuple[int, bool]:
    """Open the lock file, made if it is not there: (descriptor, made by this call)."""
    for _ in range(_OPEN_TRIES):
        try:
            try:
                return open_nofollow(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
            except FileExistsError:
                return open_nofollow(lock, os.O_RDWR), False
        except FileNotFoundError:
            continue  # removed between the two opens: make it
        except LinkInTheWay:
            raise ReportError(f"{lock}: is a symbolic link where the lock file of {flag} "
                              f"{path} goes; nothing was sent. partoo-bulk never writes "
                              "through a link beside a report: remove it, then run "
                              "again") from None
        except OSError as exc:
            raise ReportError(f"{lock}: cannot create the lock file of {flag} {path} "
                              f"({exc.strerror}): check that its folder is writable") from None
    raise ReportError(f"{lock}: the lock file of {flag} {path} keeps disappearing while "
                      "this run opens it; nothing was sent. Check what else removes files "
                      "in that folder, then run again")


def _is_at(fd: int, lock: Path) -> bool:
    """The file `fd` has open is the one named `lock` (not removed, not replaced)."""
    try:
        there = os.stat(lock, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _remove(fd: int, lock: Path) -> None:
    """Remove the lock file this run made, still locked: whoever opened it meanwhile
    finds, once it has the lock, that it is no longer the file at the path (`_lock`)."""
    if _is_at(fd, lock):
        with suppress(OSError):  # Windows cannot remove an open file: it stays, harmless
            os.unlink(lock)


def _write_holder(fd: int, data: bytes) -> None:
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)  # no pwrite on Windows; the fd is ours alone
        os.write(fd, data)
    except OSError:
        pass  # only for another run's message; the lock itself is what protects


def _read_all(fd: int) -> bytes:
    """What the lock file holds (an earlier holder's pid and start time), to put back."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, _HOLDER_MAX)
    except OSError:
        return b""


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
            data = json.loads(os.read(fd, _HOLDER_MAX) or b"null")
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and {"pid", "since"} <= set(data):
            return data
        time.sleep(0.01)
    return None
