"""A plan whose spill folder is full or unwritable (issue 31 item 14): a message naming
the folder and TMPDIR, exit 2 before anything is sent, never "this is a bug"; the folder
cleaned up. The full disk is an OSError at the file seam (`open` in
`worker.jobfile.repeats`), as a full TMPDIR gives it; a TMPDIR that does not exist is real."""

from __future__ import annotations

import builtins
import errno
import functools
import os
import tempfile

import pytest

import worker.jobfile.plan as plan_module
import worker.jobfile.repeats as repeats_module
from helpers import write_job
from worker.core.errors import StartupError
from worker.jobfile.plan import make_plan
from worker.jobfile.reader import open_job
from worker.jobfile.repeats import Repeats

ROWS = [(str(cid), "closed", "") for cid in (1, 2, 3, 2, 5, 6, 7, 1)]


@pytest.fixture
def spills_early(monkeypatch, tmp_path):
    """Plans spill to disk after 2 rows, in a temporary folder of the test's own."""
    monkeypatch.setattr(plan_module, "Repeats", functools.partial(Repeats, spill_rows=2,
                                                                  parts=3))
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def full_disk(monkeypatch, spills_early):
    """Every file the spill opens for writing fails as on a full file system."""
    def no_room(path, mode="r", *args, **kwargs):
        if "a" in mode or "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(repeats_module, "open", no_room, raising=False)
    return spills_early


def test_a_full_temporary_folder_is_a_startup_error_that_says_so(tmp_path, full_disk):
    job = open_job(write_job(tmp_path / "job.csv", ROWS))
    with pytest.raises(StartupError) as caught:
        make_plan(job)
    message = str(caught.value)
    assert f"the temporary folder {full_disk} is full (No space left on device)" in message
    assert "free some space there, or point TMPDIR at a folder with room" in message
    assert caught.value.exit_code == 2
    assert list(full_disk.iterdir()) == []  # the spill folder removed all the same


def test_a_temporary_folder_that_is_gone_says_so(tmp_path, spills_early, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    job = open_job(write_job(tmp_path / "job.csv", ROWS))
    with pytest.raises(StartupError, match=r"temporary folder .*gone cannot be written "
                                           r"\(No such file or directory\)"):
        make_plan(job)


def test_the_counts_alone_need_no_temporary_folder(tmp_path, full_disk):
    plan = make_plan(open_job(write_job(tmp_path / "job.csv", ROWS)), counts_only=True)
    assert plan.rows == len(ROWS)


def test_plan_and_run_exit_2_with_the_message_nothing_sent(tmp_path, full_disk, cli,
                                                          make_sim):
    from helpers import sim_env

    job = write_job(tmp_path / "job.csv", ROWS)
    planned = cli("plan", job, env={"PARTOO_API_KEY": "k"})
    assert planned.code == 2, planned.err
    assert "is full" in planned.err and "TMPDIR" in planned.err
    assert "bug" not in planned.err
    sim = make_sim()
    # --finish-by: the window needs the requests counted, --undo-out the conversations.
    ran = cli("run", job, "--yes", "--finish-by", "+1h", "--undo-out", tmp_path / "undo.csv",
              env=sim_env(sim))
    assert ran.code == 2 and "is full" in ran.err and "bug" not in ran.err, ran.err
    assert not [r for r in sim.state.log.records if r.method == "PATCH"]
