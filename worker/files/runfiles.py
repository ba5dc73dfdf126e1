"""Every file a run writes, named in one place: `RunFiles(report, undo, ...)`.

A run writes the report R and, beside it, files named after it; with `--undo-out U`,
U and its own side files; `--summary-json S` and `--metrics-out M`, each with the
temporary file it is renamed from. The lock (`worker.report.lock`), the check that no
two outputs are one file (`worker.run.paths`), `--overwrite` (`worker.run.outputs`) and
`partoo-bulk report` learn the names here, temporary files included, so a name added
here is locked, checked and cleared everywhere at once.

The paths a flag names are taken to the file they point at (`resolve_link`): a run on
`--report link.csv` is a run on the file `link.csv` points to, locked and checked as
that file. The files beside them are never followed (`SideFile.link_refused`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = ["RunFiles", "SideFile", "journal_of", "lock_of", "not_restorable_of",
           "resolve_link", "tmp_of"]


def resolve_link(path: Path) -> Path:
    """`path` with its symbolic links followed; as given when it has none (messages keep
    the operator's spelling)."""
    real = os.path.realpath(path)
    return path if real == os.path.abspath(path) else Path(real)


class SideFile(NamedTuple):
    flag: str  # the flag whose file it belongs to (--report, --undo-out, ...)
    what: str  # what it is, in a message; the flag itself for the file the flag names
    path: Path
    temporary: bool = False

    @property
    def named_by_flag(self) -> bool:
        return self.what == self.flag


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


@dataclass(frozen=True)
class RunFiles:
    """The files of one run. Build it with `RunFiles.of` (links resolved)."""

    report: Path
    undo: Path | None = None
    summary_json: Path | None = None
    metrics: Path | None = None

    @classmethod
    def of(cls, report: Path, undo: Path | None = None, summary_json: Path | None = None,
           metrics: Path | None = None) -> RunFiles:
        return cls(resolve_link(report), None if undo is None else resolve_link(undo),
                   None if summary_json is None else resolve_link(summary_json),
                   None if metrics is None else resolve_link(metrics))

    # The report's side files.
    @property
    def lock(self) -> Path:
        return lock_of(self.report)

    @property
    def meta(self) -> Path:
        return _beside(self.report, ".meta.json")

    @property
    def meta_tmp(self) -> Path:
        return _beside(self.report, ".meta.tmp")

    @property
    def job_copy(self) -> Path:
        return _beside(self.report, ".job.csv")

    @property
    def job_copy_tmp(self) -> Path:
        return tmp_of(self.job_copy)

    @property
    def partial(self) -> Path:
        return _beside(self.report, ".partial")

    @property
    def ahead(self) -> Path:
        return _beside(self.report, ".ahead")

    @property
    def ahead_tmp(self) -> Path:
        return tmp_of(self.ahead)

    @property
    def report_tmp(self) -> Path:
        return tmp_of(self.report)

    # The undo file's (with --undo-out).
    @property
    def undo_lock(self) -> Path | None:
        return None if self.undo is None else lock_of(self.undo)

    @property
    def journal(self) -> Path | None:
        return None if self.undo is None else journal_of(self.undo)

    @property
    def not_restorable(self) -> Path | None:
        return None if self.undo is None else not_restorable_of(self.undo)

    def all(self) -> Iterator[SideFile]:
        """Every file the run may write, the lock and temporary files included."""
        r = "--report"
        yield SideFile(r, r, self.report)
        yield SideFile(r, "the partial report", self.partial)
        yield SideFile(r, "the meta file", self.meta)
        yield SideFile(r, "the rows-ahead file", self.ahead)
        yield SideFile(r, "the lock file", self.lock)
        yield SideFile(r, "the job's copy", self.job_copy)
        yield SideFile(r, "a temporary file", self.report_tmp, True)
        yield SideFile(r, "a temporary file", self.meta_tmp, True)
        yield SideFile(r, "a temporary file", self.job_copy_tmp, True)
        yield SideFile(r, "a temporary file", self.ahead_tmp, True)
        if self.undo is not None:
            u = "--undo-out"
            nr = not_restorable_of(self.undo)
            yield SideFile(u, u, self.undo)
            yield SideFile(u, "the undo journal", journal_of(self.undo))
            yield SideFile(u, "the not-restorable list", nr)
            yield SideFile(u, "the lock file", lock_of(self.undo))
            yield SideFile(u, "a temporary file", tmp_of(self.undo), True)
            yield SideFile(u, "a temporary file", tmp_of(nr), True)
        for flag, path in (("--summary-json", self.summary_json),
                           ("--metrics-out", self.metrics)):
            if path is not None:
                yield SideFile(flag, flag, path)
                yield SideFile(flag, "a temporary file", tmp_of(path), True)

    def stale(self) -> list[Path]:
        """What an earlier run left that a fresh start (`--overwrite`) removes: its
        report, partial report, meta, rows ahead, undo job and journal. Never the lock
        (see `worker.report.lock`) nor the job's copy (it may be the job)."""
        found = [self.report, self.partial, self.meta, self.ahead]
        if self.undo is not None:
            found += [self.undo, journal_of(self.undo)]
        return found


# The names a file gives the files beside it, for the writers that have only that file
# (`select --undo-out` writes an undo job and its not-restorable list without a run).
def lock_of(path: Path) -> Path:
    return _beside(path, ".lock")


def journal_of(undo: Path) -> Path:
    return _beside(undo, ".journal.csv")


def not_restorable_of(undo: Path) -> Path:
    return _beside(undo, ".not-restorable.csv")


def tmp_of(path: Path) -> Path:
    """The temporary file `path` is written to, then renamed from."""
    return _beside(path, ".tmp")
