"""Write a job file atomically: it appears whole, under its name, or not at all.

Rows stream into a hidden temporary file beside the target (same folder, so the final
rename stays on one filesystem and is atomic). `commit()` flushes it to disk and gives it
its name; leaving the `with` block without `commit()` (an error, Ctrl-C, a 401) deletes
it, so a listing that failed never leaves a half job file that looks complete.

Without `overwrite`, the name is taken with a hard link, which fails if something
appeared there meanwhile: an existing file is never replaced, not even by a race.

`--out -` writes to stdout instead, with the same promise: the rows go to an anonymous
temporary file, and reach stdout only at `commit()`.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

from worker.core.cells import neutralise
from worker.core.errors import ConfigError
from worker.core.stdio import is_stdio

__all__ = ["JobWriter", "StdoutJobWriter", "check_out_path", "open_job_writer"]

def open_job_writer(path: Path, header: list[str], *, overwrite: bool) -> JobWriter:
    if is_stdio(path):
        return StdoutJobWriter(path, header, overwrite=overwrite)
    return JobWriter(path, header, overwrite=overwrite)


def check_out_path(path: Path, overwrite: bool) -> None:
    """Refuse, before anything is sent, an --out that could not be written."""
    if path.is_dir():
        raise ConfigError(f"--out {path}: is a folder: name the job file, e.g. {path}/job.csv")
    if not path.parent.is_dir():
        raise ConfigError(f"--out {path}: the folder {path.parent} does not exist: create it "
                          "or choose another path")
    if path.exists() and not overwrite:
        raise ConfigError(f"--out {path}: a file is already there: pass --overwrite to "
                          "replace it, or choose another path")
    if not os.access(path.parent, os.W_OK):
        raise ConfigError(f"--out {path}: the folder {path.parent} is not writable")


class JobWriter:
    def __init__(self, path: Path, header: list[str], *, overwrite: bool) -> None:
        self.path = path
        self._header = header
        self._overwrite = overwrite
        self._file: IO[str] | None = None
        self._tmp: Path | None = None
        self.rows = 0

    def __enter__(self) -> JobWriter:
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.partial")
        try:
            # "x": a name nobody else holds; the umask decides permissions, as for a report.
            self._file = open(tmp, "x", encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"--out {self.path}: cannot write in {self.path.parent} "
                              f"({exc.strerror})") from None
        self._tmp = tmp
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(self._header)
        return self

    def write(self, cells: list[str]) -> None:
        # Context cells come from the API (business names): a spreadsheet must not run them.
        self._writer.writerow([neutralise(c) for c in cells])
        self.rows += 1

    def commit(self) -> None:
        """Flush to disk, then give the file its name. OSError propagates."""
        assert self._file is not None and self._tmp is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._overwrite:
            os.replace(self._tmp, self.path)
        else:
            self._take_name(self._tmp)
        self._tmp = None

    def _take_name(self, tmp: Path) -> None:
        try:
            os.link(tmp, self.path)
        except FileExistsError:
            raise ConfigError(f"--out {self.path}: a file appeared there during the "
                              "listing: pass --overwrite, or choose another path") from None
        except OSError:
            # A filesystem without hard links: check, then rename (a tiny race remains).
            if self.path.exists():
                raise ConfigError(f"--out {self.path}: a file appeared there during the "
                                  "listing: pass --overwrite, or choose another path") from None
            os.replace(tmp, self.path)
            return
        tmp.unlink()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


class StdoutJobWriter(JobWriter):
    """`--out -`: the job on stdout, whole, once the listing is complete."""

    def __enter__(self) -> StdoutJobWriter:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(self._header)
        return self

    def commit(self) -> None:
        assert self._file is not None
        self._file.seek(0)
        shutil.copyfileobj(self._file, sys.stdout)
        sys.stdout.flush()
        self._file.close()
