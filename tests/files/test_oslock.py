"""The report's lock on Windows: `msvcrt`'s byte-range lock, the branch taken where there
is no `fcntl` (its import without `fcntl` is tested in tests/e2e/test_every_desktop.py)."""

from __future__ import annotations

import errno
import os
import sys
import types

import pytest

from worker.files import oslock


class FakeMsvcrt(types.ModuleType):
    """Windows' byte-range lock, as it behaves: a byte locked through one handle cannot
    be locked through another until it is unlocked."""

    LK_UNLCK, LK_NBLCK = 0, 2

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int, int], int] = {}  # (dev, inode, offset) -> fd

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino, os.lseek(fd, 0, os.SEEK_CUR))
        if mode == self.LK_UNLCK:
            self.held.pop(key, None)
        elif self.held.setdefault(key, fd) != fd:
            raise OSError(errno.EACCES, "Permission denied")


def test_the_windows_lock_branch_refuses_a_second_holder_and_leaves_the_text_readable(
        tmp_path, monkeypatch):
    fake = FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    path = tmp_path / "r.csv.lock"
    first = os.open(path, os.O_RDWR | os.O_CREAT)
    second = os.open(path, os.O_RDWR)
    try:
        assert oslock._msvcrt_lock(first)
        assert not oslock._msvcrt_lock(second)
        (offset,) = {key[2] for key in fake.held}
        assert offset > 4096  # past the holder's pid and start time, which stay readable
        oslock._msvcrt_unlock(first)
        assert oslock._msvcrt_lock(second)
    finally:
        os.close(first)
        os.close(second)


def test_with_neither_lock_the_error_says_so(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "msvcrt", None)  # import fails
    fd = os.open(tmp_path / "x.lock", os.O_RDWR | os.O_CREAT)
    try:
        with pytest.raises(OSError, match="no file locking"):
            oslock._msvcrt_lock(fd)
    finally:
        os.close(fd)
