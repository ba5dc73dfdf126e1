"""The one writer of job files (`select --out`, `report --failed`, the undo jobs of
`run --undo-out` and `select --undo-out`): a job file appears whole, under its name, or
not at all, in one format (UTF-8, `\n` line ends, as the job reader and `plan` read it),
in the CSV dialect it is given (`worker.files.csvdialect`: `,` or `;`, a BOM or not; the
caller decides which, from `--csv-dialect` and the file the job comes from).

Rows stream into a temporary file beside the target, created exclusively under an
unpredictable name and never through a link (`worker.files.atomic`). `commit()` flushes
it, fsyncs it and gives it its name (then fsyncs the folder); leaving the `with` block
without `commit()` (an error, Ctrl-C, a 401) deletes it, so a listing that failed never
leaves a half job file that looks complete.

Without `overwrite`, the name is taken with a hard link, which fails if something
appeared there meanwhile: an existing file is never replaced, not even by a race.

`-` writes to stdout instead, with the same promise: the rows go to an anonymous
temporary file, and reach stdout only at `commit()`.

`flag` names the file in messages (`ConfigError`: `--out PATH: ...`); with `flag=None`
(the end of a run, where the caller reports it) an `OSError` propagates as it is.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

from worker.core.cells import neutralise
from worker.core.errors import ConfigError
from worker.core.filepath import check_replaceable, is_stdio
from worker.files.atomic import create_new, fsync_folder, publish, random_tmp
from worker.files.csvdialect import COMMA, CsvDialect

__all__ = ["JobWriter", "StdoutJobWriter", "check_out_path", "open_job_writer"]

LINE_END = "\n"  # every job file partoo-bulk writes


def open_job_writer(path: Path, header: list[str], *, overwrite: bool, flag: str = "--out",
                    neutralise_cells: bool = True, dialect: CsvDialect) -> JobWriter:
    """A writer to `path`, or to stdout for `-`."""
    cls = StdoutJobWriter if is_stdio(path) else JobWriter
    return cls(path, header, overwrite=overwrite, flag=flag,
               neutralise_cells=neutralise_cells, dialect=dialect)


def check_out_path(path: Path, overwrite: bool, flag: str = "--out") -> None:
    """Refuse, before anything is sent, an --out (or --undo-out) that could not be
    written."""
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: is a folder: name the job file, e.g. "
                          f"{path}/job.csv")
    check_replaceable(path, flag)
    if not path.parent.is_dir():
        raise ConfigError(f"{flag} {path}: the folder {path.parent} does not exist: create "
                          "it or choose another path")
    if path.exists() and not overwrite:
        raise ConfigError(f"{flag} {path}: a file is already there: pass --overwrite to "
                          "replace it, or choose another path")
    if not os.access(path.parent, os.W_OK):
        raise ConfigError(f"{flag} {path}: the folder {path.parent} is not writable")


class JobWriter:
    """`neutralise_cells`: cells that came from the API are made harmless for a
    spreadsheet (`worker.core.cells`); off for cells already as they must be sent."""

    def __init__(self, path: Path, header: list[str], *, overwrite: bool,
                 flag: str | None = "--out", neutralise_cells: bool = True,
                 dialect: CsvDialect = COMMA) -> None:
        self.path = path
        self.dialect = dialect
        self._header = header
        self._overwrite = overwrite
        self._flag = flag
        self._neutralise = neutralise_cells
        self._file: IO[str] | None = None
        self._tmp: Path | None = None

    def __enter__(self) -> JobWriter:
        tmp = random_tmp(self.path)
        try:
            # A name nobody else holds; the umask decides permissions, as for a report.
            fd = create_new(tmp)
        except OSError as exc:
            if self._flag is None:
                raise
            raise ConfigError(f"{self._flag} {self.path}: cannot write in {self.path.parent} "
                              f"({exc.strerror})") from None
        self._tmp = tmp
        self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self._start()
        return self

    def _start(self) -> None:
        assert self._file is not None
        self.dialect.start(self._file)  # the BOM, if any: once, before the header
        self._writer = self.dialect.writer(self._file, lineterminator=LINE_END)
        self._writer.writerow(self._header)

    def write(self, cells: list[str]) -> None:
        # Context cells come from the API (business names): a spreadsheet must not run them.
        self._writer.writerow([neutralise(c) for c in cells] if self._neutralise else cells)

    def commit(self) -> None:
        """Flush to disk, then give the file its name. OSError propagates."""
        assert self._file is not None and self._tmp is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._overwrite:
            publish(self._tmp, self.path)
        else:
            self._take_name(self._tmp)
        self._tmp = None

    def _appeared(self) -> ConfigError:
        return ConfigError(f"{self._flag or self.path.name} {self.path}: a file appeared "
                           "there while it was written: pass --overwrite, or choose another "
                           "path")

    def _take_name(self, tmp: Path) -> None:
        try:
            os.link(tmp, self.path)
        except FileExistsError:
            raise self._appeared() from None
        except OSError:
            # A filesystem without hard links: check, then rename (a tiny race remains).
            if self.path.exists():
                raise self._appeared() from None
            publish(tmp, self.path)
            return
        tmp.unlink()
        fsync_folder(self.path.parent)

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
        self._start()
        return self

    def commit(self) -> None:
        assert self._file is not None
        self._file.seek(0)
        shutil.copyfileobj(self._file, sys.stdout)
        sys.stdout.flush()
        self._file.close()
