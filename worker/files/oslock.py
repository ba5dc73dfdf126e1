"""An exclusive lock on an open file, taken without waiting: `flock` on POSIX,
`msvcrt.locking` on Windows (where there is no `fcntl`). `worker.report.lock` uses it
(the rules: what is locked, for how long, what a second run is told, are there), and
`worker.files.scratch`, to tell a scratch folder in use from one a killed process left.

Both are released by the OS when the process dies. `msvcrt.locking` locks bytes, and a
locked byte cannot even be read by another process: the lock is on one byte far past
the end of what the holder writes, so a second run can still read who holds it.
"""

from __future__ import annotations

import errno
import os
import sys

__all__ = ["try_lock", "unlock"]

_WINDOWS_BYTE = 1 << 30  # past the holder's few bytes (msvcrt locks may lie beyond the end)


def _flock(fd: int) -> bool:
    """True once `fd`'s file is locked by us; False when another holds it. OSError: the
    file system cannot lock (some network mounts)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _funlock(fd: int) -> None:
    pass  # closing the file releases a flock


def _msvcrt_lock(fd: int) -> bool:
    """As `_flock`, with Windows' byte-range lock."""
    try:
        import msvcrt
    except ImportError:  # neither fcntl nor msvcrt: say so as a file system would
        raise OSError(errno.ENOTSUP, "this platform has no file locking") from None

    os.lseek(fd, _WINDOWS_BYTE, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EDEADLK):
            return False
        raise
    return True


def _msvcrt_unlock(fd: int) -> None:
    import msvcrt

    try:
        os.lseek(fd, _WINDOWS_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        pass  # closing the handle releases it too


def _has_fcntl() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


if sys.platform != "win32" and _has_fcntl():
    try_lock, unlock = _flock, _funlock
else:
    try_lock, unlock = _msvcrt_lock, _msvcrt_unlock
