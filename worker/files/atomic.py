"""Writing a file whole or not at all, and never through a link someone left there.

`atomic_write(path)` is the one tmp-then-rename write: the bytes go to a temporary file
created beside `path` (same folder, so the rename stays on one filesystem and is atomic),
exclusively and without following a link (`create_new`); then flush, fsync, rename, and
fsync of the folder where the platform allows it (the rename itself on disk). An error
or Ctrl-C inside the block removes the temporary file and leaves `path` as it was.

The temporary name is either one of `worker.files.runfiles`'s fixed names (the report's
lock guarantees no other run uses it; a leftover of a killed run is replaced, a link is
refused) or, by default, an unpredictable one (`.NAME.XXXXXXXX.partial`).

Files beside a report are opened with `open_nofollow`: a symbolic link where one should
be raises `LinkInTheWay` (an `OSError` whose `strerror` says so) instead of writing
through it to whatever it points at.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal, overload

__all__ = ["LinkInTheWay", "atomic_write", "create_new", "fsync_folder", "open_nofollow",
           "publish", "random_tmp", "write_text"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # absent on Windows, where links are rare and privileged
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation below Python's own


class LinkInTheWay(OSError):
    """A symbolic link (or something else that is not ours) where a file of the run goes."""

    def __init__(self, path: Path) -> None:
        super().__init__(errno.ELOOP, "a symbolic link is there; partoo-bulk never writes "
                         "through one: remove it", str(path))


def random_tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")


def open_nofollow(path: Path, flags: int, perm: int = 0o666) -> int:
    """`os.open` that refuses a symbolic link as the last part of `path`."""
    try:
        return os.open(path, flags | _NOFOLLOW | _CLOEXEC | _BINARY, perm)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EEXIST and os.path.islink(path)):
            raise LinkInTheWay(path) from None
        raise


def create_new(path: Path, perm: int = 0o666) -> int:
    """A new file at `path`, opened for writing: created exclusively, never through a
    link. A regular file already there (a killed run's temporary file) is replaced."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        return open_nofollow(path, flags, perm)
    except FileExistsError:
        if os.path.islink(path) or not os.path.isfile(path):
            raise LinkInTheWay(path) from None
        os.unlink(path)
    return open_nofollow(path, flags, perm)


def fsync_folder(folder: Path) -> None:
    """Put a rename in `folder` on disk; nothing where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse it; the rename is done either way
    finally:
        os.close(fd)


def publish(tmp: Path, path: Path) -> None:
    """Give the written, fsynced `tmp` its name `path` (replacing what was there)."""
    os.replace(tmp, path)
    fsync_folder(path.parent)


@overload
def atomic_write(path: Path, *, tmp: Path | None = ..., binary: Literal[False] = ...,
                 perm: int = ..., durable: bool = ...
                 ) -> contextlib.AbstractContextManager[IO[str]]: ...
@overload
def atomic_write(path: Path, *, tmp: Path | None = ..., binary: Literal[True],
                 perm: int = ..., durable: bool = ...
                 ) -> contextlib.AbstractContextManager[IO[bytes]]: ...
def atomic_write(path: Path, *, tmp: Path | None = None, binary: bool = False,
                 perm: int = 0o666, durable: bool = True
                 ) -> contextlib.AbstractContextManager[IO[str] | IO[bytes]]:
    """Write `path` whole or not at all, through the file the `with` block gets (text:
    UTF-8, no newline translation). OSError propagates, `path` untouched.

    `durable=False` skips the two fsyncs (about 10 ms on a VM's disk): only for a file
    that needs to survive the process being killed, not the machine losing power, and
    is written from the event loop while requests go out (`worker.report.ahead`)."""
    return _atomic(path, tmp or random_tmp(path), binary, perm, durable)


@contextlib.contextmanager
def _atomic(path: Path, tmp: Path, binary: bool, perm: int,
            durable: bool) -> Iterator[IO[str] | IO[bytes]]:
    fd = create_new(tmp, perm)  # a link refused here is left alone: it is not ours
    try:
        f: IO[str] | IO[bytes] = (os.fdopen(fd, "wb") if binary else
                                  os.fdopen(fd, "w", encoding="utf-8", newline=""))
        with f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        if durable:
            publish(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str, *, tmp: Path | None = None) -> None:
    """`text` as the whole of `path`, atomically (see `atomic_write`)."""
    with atomic_write(path, tmp=tmp) as f:
        f.write(text)
