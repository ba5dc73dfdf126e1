"""A private scratch folder in the temporary directory, which a killed process does not
leave there for good.

`plan` (and `run`'s confirmation) spills a big job's conversation ids to such a folder
(`worker.jobfile.repeats`) and removes it when done; killed meanwhile (kill -9, a
SIGTERM at its default, a power cut), it cannot. So every folder holds a lock file,
locked (`worker.files.oslock`) for as long as the folder is in use, and making a folder
first removes the stale ones of its prefix: those whose lock nobody holds, because the
kernel released it when their maker died. A lock, not a pid, says whether a folder is
in use: pids are reused, and another container sharing /tmp sees other pids.

- The lock file gets its name only once locked (made as `.lock.new`, locked, renamed):
  a folder with a `.lock` that no one holds is stale, never one about to be locked.
- A folder with no `.lock` (its maker died before locking, or a version before this
  one made it) is stale once untouched for `_UNLOCKED_STALE_S`.
- Only this user's folders are touched, only real folders (never through a link), only
  names with the prefix; whatever cannot be removed is left as it is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from worker.files import oslock

__all__ = ["Scratch"]

_LOCK, _NEW_LOCK = ".lock", ".lock.new"
_UNLOCKED_STALE_S = 3600.0  # a live maker locks its folder within microseconds of making it


class Scratch:
    """A new 0700 folder `path` named `prefix...`, in use until `remove()`."""

    def __init__(self, prefix: str, parent: Path | None = None) -> None:
        where = Path(tempfile.gettempdir() if parent is None else parent)
        remove_stale(where, prefix)
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=where))  # 0700
        fd = os.open(self.path / _NEW_LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            oslock.try_lock(fd)  # a name no other process looks for: it cannot be held
        except OSError:
            pass  # a file system that cannot lock: the folder is then removed by age
        os.rename(self.path / _NEW_LOCK, self.path / _LOCK)
        self._fd: int | None = fd

    def remove(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None
            shutil.rmtree(self.path, ignore_errors=True)


def remove_stale(where: Path, prefix: str) -> None:
    """Remove the folders `prefix*` in `where` that no live process uses (module doc)."""
    try:
        names = [n for n in os.listdir(where) if n.startswith(prefix)]
    except OSError:
        return
    uid = getattr(os, "getuid", lambda: None)()
    for name in names:
        folder = where / name
        try:
            info = os.lstat(folder)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
            continue
        with contextlib.suppress(OSError):
            _remove_if_stale(folder, info.st_mtime)


def _remove_if_stale(folder: Path, changed_at: float) -> None:
    try:
        fd = os.open(folder / _LOCK, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        if time.time() - changed_at > _UNLOCKED_STALE_S:
            shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        stale = oslock.try_lock(fd)  # nobody holds it: its maker is gone
    finally:
        os.close(fd)  # before removing: Windows removes no file that is open
    if stale:
        shutil.rmtree(folder, ignore_errors=True)
