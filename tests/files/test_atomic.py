"""The one atomic write and the lock's file: whole or not at all, never through a link."""

from __future__ import annotations

import pytest

from worker.core.errors import ReportError
from worker.files.atomic import LinkInTheWay, atomic_write, write_text
from worker.files.runfiles import RunFiles
from worker.report import lock


def test_the_lock_and_copies_never_follow_a_link_that_appears_late(tmp_path):
    """Past the check (a link planted between it and the write): still not followed."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    files = RunFiles.of(tmp_path / "r.csv")
    files.lock.symlink_to(victim)
    with pytest.raises(ReportError, match="symbolic link"), lock.hold(files):
        pass
    files.meta_tmp.symlink_to(victim)
    with pytest.raises(LinkInTheWay):
        write_text(files.meta, "{}", tmp=files.meta_tmp)
    assert victim.read_text() == "precious\n" and not files.meta.exists()


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "s.json"
    write_text(path, "old\n", tmp=tmp_path / "s.json.tmp")
    (tmp_path / "s.json.tmp").write_text("a killed run's leftover")
    with pytest.raises(RuntimeError), atomic_write(path, tmp=tmp_path / "s.json.tmp") as f:
        f.write("half")
        raise RuntimeError("disk full, say")
    assert path.read_text() == "old\n" and sorted(tmp_path.iterdir()) == [path]
    write_text(path, "new\n", tmp=tmp_path / "s.json.tmp")
    assert path.read_text() == "new\n" and sorted(tmp_path.iterdir()) == [path]
