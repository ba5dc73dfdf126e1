"""Where `fcntl` does not exist (Windows): the package imports and `plan` works; the lock
has a branch for Windows' `msvcrt`, and signals are handled without the loop's
`add_signal_handler`."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import sys
import types

import pytest

from helpers import write_job
from worker.files import oslock
from worker.sending.control import RunControl
from worker.sending.signals import graceful_signals

NO_FCNTL = """
import importlib, pkgutil, sys

class NoFcntl:
    def find_spec(self, name, path=None, target=None):
        if name == "fcntl":
            raise ModuleNotFoundError("No module named 'fcntl'", name="fcntl")

sys.modules.pop("fcntl", None)
sys.meta_path.insert(0, NoFcntl())
import worker
for info in pkgutil.walk_packages(worker.__path__, "worker."):
    if info.name != "worker.__main__":  # it runs the CLI: that comes last
        importlib.import_module(info.name)
assert "fcntl" not in sys.modules
from worker.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_fcntl_every_module_imports_and_plan_runs(tmp_path):
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "open", "")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    done = subprocess.run([sys.executable, "-c", NO_FCNTL, "plan", str(job), "--json"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"rows": 2' in done.stdout


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


async def test_signals_are_handled_where_the_loop_cannot_install_them(monkeypatch):
    loop = asyncio.get_running_loop()

    def unsupported(*args: object) -> None:
        raise NotImplementedError  # as on Windows' proactor loop

    monkeypatch.setattr(loop, "add_signal_handler", unsupported)
    monkeypatch.setattr(loop, "remove_signal_handler", unsupported)
    before = signal.getsignal(signal.SIGTERM)
    control = RunControl()
    with graceful_signals(control, drain_timeout_s=30):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):
            if control.stopping:
                break
            await asyncio.sleep(0)  # the handler hands the signal to the loop
        assert control.stopping
    assert signal.getsignal(signal.SIGTERM) == before
