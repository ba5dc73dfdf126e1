"""The report's lock file after a run: kept once the run started; as it was found (none,
or the same bytes) when the run was refused before; and one removed by a refused run
while another was taking it is never a lock on nothing."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from worker.core.errors import ReportError
from worker.files import oslock
from worker.files.runfiles import RunFiles
from worker.report import lock


@pytest.fixture
def files(tmp_path) -> RunFiles:
    return RunFiles.of(tmp_path / "r.csv", tmp_path / "u.csv")


def test_a_hold_never_kept_leaves_no_lock_file_it_made(files):
    with lock.hold(files):
        assert files.lock.exists() and files.undo_lock is not None
        assert files.undo_lock.exists()
    assert not files.lock.exists() and not files.undo_lock.exists()


def test_a_hold_kept_leaves_its_lock_files(files):
    with lock.hold(files) as held:
        held.keep()
    assert files.lock.exists() and files.undo_lock is not None
    assert files.undo_lock.exists()


def test_a_hold_never_kept_gives_a_lock_file_that_was_there_its_bytes_back(files):
    files.lock.write_bytes(b'{"pid": 1, "since": "2026-01-01T00:00:00+00:00"}\n')
    with lock.hold(files):
        assert b'"pid": 1,' not in files.lock.read_bytes()  # this run's, meanwhile
    assert files.lock.read_bytes() == b'{"pid": 1, "since": "2026-01-01T00:00:00+00:00"}\n'


def test_a_refused_hold_does_not_touch_the_holders_file(files):
    with lock.hold(files):
        held_bytes = files.lock.read_bytes()
        with pytest.raises(ReportError, match="in use"), lock.hold(files):
            pass
        assert files.lock.read_bytes() == held_bytes
    assert not files.lock.exists()  # the holder, never kept, removed what it made


def test_a_lock_file_removed_while_being_taken_is_taken_again_at_its_path(files,
                                                                         monkeypatch):
    """B opens the file A made; A, refused, removes it and lets go; B gets the lock on
    the removed file. B must not run on that: C would make a new file and run too."""
    first = ExitStack()
    first.enter_context(lock.hold(RunFiles(files.report)))  # A, never kept
    real_try_lock = oslock.try_lock
    calls = []

    def try_lock_after_a_lets_go(fd: int) -> bool:
        if not calls:
            first.close()  # between B's open and B's lock
        calls.append(fd)
        return real_try_lock(fd)

    monkeypatch.setattr(oslock, "try_lock", try_lock_after_a_lets_go)
    with lock.hold(RunFiles(files.report)):  # B
        assert len(calls) == 2  # the removed file, then the one at the path
        assert files.lock.exists()
        monkeypatch.setattr(oslock, "try_lock", real_try_lock)
        with pytest.raises(ReportError, match="in use"), lock.hold(RunFiles(files.report)):
            pass  # C is refused: B's lock is on the file at the path
