"""`partoo-bulk runbook list|show|install`: the shipped runbooks, for installs with no clone.

That the wheel carries them (executable) is checked in test_packaging.py, and CI's
`wheel-demo` session runs `runbook install` from the wheel in an empty folder; the
installed copy under cron's PATH is tests/e2e/test_cron.py.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = resources.files("worker").joinpath("data", "runbooks")
NAMES = sorted(p.name.removesuffix(".sh") for p in SHIPPED.iterdir() if p.name.endswith(".sh"))


def test_every_runbook_in_the_clone_is_shipped():
    in_clone = sorted(p.stem for p in (ROOT / "jobs").glob("*.sh"))
    assert in_clone == NAMES == ["close-stale", "reassign-leaver"]
    for name in NAMES:
        # A link in a clone; a copy in the sdist (setuptools copies what a link points to).
        assert (ROOT / "jobs" / f"{name}.sh").read_bytes() == \
            (ROOT / "worker" / "data" / "runbooks" / f"{name}.sh").read_bytes()


def test_list_names_each_runbook_with_what_it_does(cli):
    result = cli("runbook", "list")
    assert result.code == 0
    listed = [line.split()[0] for line in result.out.splitlines()]
    assert listed == NAMES
    assert "close the unsolved conversations" in result.out


@pytest.mark.parametrize("name", NAMES)
def test_show_prints_the_runbook_as_shipped(cli, name):
    result = cli("runbook", "show", name)
    assert result.code == 0
    assert result.out == SHIPPED.joinpath(f"{name}.sh").read_text(encoding="utf-8")
    assert cli("runbook", "show", f"{name}.sh").out == result.out


def test_show_an_unknown_runbook_names_the_runbooks(cli):
    result = cli("runbook", "show", "close-stail")
    assert result.code == 2 and result.out == ""
    assert "close-stail" in result.err and "close-stale" in result.err
    assert "Traceback" not in result.err


def test_install_writes_executable_copies_that_call_this_install(cli, tmp_path):
    folder = tmp_path / "jobs"
    result = cli("runbook", "install", str(folder))
    assert result.code == 0
    assert sorted(p.name for p in folder.iterdir()) == [f"{n}.sh" for n in NAMES]
    for name in NAMES:
        copy = folder / f"{name}.sh"
        assert os.access(copy, os.X_OK)
        shipped = SHIPPED.joinpath(f"{name}.sh").read_text(encoding="utf-8")
        assert copy.read_text(encoding="utf-8") != shipped  # the python path is written in
    assert f"{Path(sys.executable).absolute()} -m worker" in result.out
    assert cli("runbook", "install", str(folder)).code == 0  # again: the same files


def test_install_refuses_to_replace_a_runbook_someone_edited(cli, tmp_path):
    folder = tmp_path / "jobs"
    assert cli("runbook", "install", str(folder)).code == 0
    edited = folder / "close-stale.sh"
    edited.write_text(edited.read_text() + "# local change\n")
    result = cli("runbook", "install", str(folder))
    assert result.code == 2 and "--overwrite" in result.err and str(edited) in result.err
    assert edited.read_text().endswith("# local change\n")
    assert cli("runbook", "install", str(folder), "--overwrite").code == 0
    assert not edited.read_text().endswith("# local change\n")


def test_install_into_a_folder_it_cannot_write_says_so(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("runbook", "install", str(blocker / "jobs"))
    assert result.code == 2 and "cannot install the runbooks" in result.err
    assert "Traceback" not in result.err

