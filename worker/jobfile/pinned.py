"""The job a run sends is the job it planned: its bytes, read once into `R.job.csv`.

A job file read lazily changes under the reader: rewritten in place (`cat other > job`
keeps the inode), an open file reads the new bytes from its old offset and a row made of
two files is sent; appended to, rows nobody confirmed are sent. So a run reads the
operator's file once, into a private copy beside the report, and everything after (the
plan shown, the hash in `R.meta.json`, the rows sent) reads that copy. The copy is
written under the report's lock (`worker.report.lock`), so no other run touches it.

A job given as a stream (`-` for stdin, `/dev/stdin`, a FIFO) can be read only once:
its copy is all there is, so it is kept for `--resume` and named as the job (in the
report's meta, the resume command, messages). A regular file stays the job's name; its
copy is rewritten by each run. On `--resume` an existing copy is never replaced: if the
bytes read now differ, they are read from a temporary copy, and the report's meta check
refuses them (`worker.report.meta.check_same_job`), leaving the copy as it was.

The copy takes its name only when the run starts (`Pin.publish`, once every check
passed): until then the job is read from the temporary copy, removed at the end. So a
run refused before it sends anything leaves no copy where there was none, and the one
there (an earlier run's, perhaps the only copy of a job read from stdin) as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from worker.core.errors import JobFileError, ReportError
from worker.core.filepath import is_stdio
from worker.core.operations import Override
from worker.files.atomic import LinkInTheWay, create_new, publish
from worker.files.runfiles import RunFiles
from worker.jobfile.reader import Job, open_job

__all__ = ["JobSource", "Pin", "is_stream", "pinned", "resume_name", "stdin_bytes"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class JobSource:
    """A job as given on the command line, not yet read."""

    path: Path
    override: Override | None = None


def is_stream(path: Path) -> bool:
    """`-`, a pipe, /dev/stdin, a device: bytes that can be read only once."""
    if is_stdio(path):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # missing: open_job says so
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def stdin_bytes() -> BinaryIO:
    """Standard input, to read a job from. Raises `JobFileError` when the process has
    none (started with `<&-`: Python then has no sys.stdin at all)."""
    if sys.stdin is None:
        raise JobFileError("stdin (-): the job was to be read from stdin, but stdin is "
                           "closed: pipe the job in, or give "
                           "its file instead")
    return sys.stdin.buffer


def resume_name(job: Path, report: Path) -> Path:
    """The job a resume command names: the kept copy for a stream, else the job."""
    return RunFiles.of(report).job_copy if is_stream(job) else job


class Pin:
    """The job, read from its copy (`job`); `publish()` when the run starts."""

    def __init__(self, job: Job, tmp: Path | None = None, spool: Path | None = None) -> None:
        self.job = job
        self._tmp, self._spool = tmp, spool  # the copy to give its name, if any

    def publish(self) -> None:
        """Give the copy its name `R.job.csv`, read from there on; once is enough."""
        if self._tmp is None or self._spool is None:
            return
        publish(self._tmp, self._spool)
        self.job.data = self._spool
        self._tmp = None


@contextlib.contextmanager
def pinned(source: JobSource, files: RunFiles, *, resume: bool) -> Iterator[Pin]:
    """The job, opened from its copy beside the report. Hold the report's lock first.

    Raises `JobFileError` when the job cannot be read, `ReportError` when the copy cannot
    be written (nothing was sent either way)."""
    spool = files.job_copy
    stream = is_stream(source.path)
    if not stream and _same_file(source.path, spool):
        # `run R.job.csv --report R --resume`: the copy is the job; read it as it is.
        yield Pin(open_job(spool, source.override))
        return
    tmp = files.job_copy_tmp
    digest, size = _copy(source.path, tmp)
    keep_old = resume and spool.exists() and _sha256(spool) != digest
    try:
        job = open_job(tmp, source.override, shown=spool if stream else source.path)
        job.digest = digest, size  # the bytes of `tmp`: hashed while they were copied
        yield Pin(job) if keep_old else Pin(job, tmp, spool)
    finally:
        tmp.unlink(missing_ok=True)


def _copy(source: Path, to: Path) -> tuple[str, int]:
    """Copy the job's bytes to the new file `to` (private: 0600, never through a link);
    their SHA-256 and size, once flushed to disk."""
    digest = hashlib.sha256()
    size = 0
    with _open_source(source) as src:
        try:
            fd = create_new(to, 0o600)
        except LinkInTheWay:
            raise ReportError(f"{to}: is a symbolic link where the job's copy is written; "
                              "nothing was sent. partoo-bulk never writes through a link "
                              "beside a report: remove it, then run again") from None
        except OSError as exc:
            raise ReportError(f"{to}: cannot write the job's copy ({exc.strerror}): check "
                              "the report's folder") from None
        with os.fdopen(fd, "wb") as out:
            while True:
                try:
                    chunk = src.read(_CHUNK)
                except OSError as exc:
                    raise JobFileError(f"{_name(source)}: cannot read the job file "
                                       f"({exc.strerror})") from None
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise ReportError(f"{to}: cannot write the job's copy ({exc.strerror}): "
                                      "free space in the report's folder; nothing was "
                                      "sent") from None
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise ReportError(f"{to}: cannot write the job's copy ({exc.strerror}): "
                                  "free space in the report's folder; nothing was "
                                  "sent") from None
    return digest.hexdigest(), size


@contextlib.contextmanager
def _open_source(source: Path) -> Iterator[BinaryIO]:
    if is_stdio(source):
        yield stdin_bytes()
        return
    if source.is_dir():
        raise JobFileError(f"{source}: is a folder, not a job file")
    try:
        f = open(source, "rb")  # closed below, once read
    except FileNotFoundError:
        raise JobFileError(f"{source}: no such job file: check the path") from None
    except PermissionError:
        raise JobFileError(f"{source}: permission denied: make the job file "
                           "readable") from None
    except OSError as exc:
        raise JobFileError(f"{source}: cannot read the job file ({exc.strerror})") from None
    with f:
        yield f


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _name(source: Path) -> str:
    return "stdin" if is_stdio(source) else str(source)
