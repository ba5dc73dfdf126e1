"""Right answers in the edge cases: --retry-failed, a full disk under the undo journal,
settings that hold a secret or cannot be, a listing that goes round, plain messages."""

from __future__ import annotations

import errno
import json

import pytest

from helpers import SECRET, read_report, sim_env, write_job
from worker.simulator import ALICE, BOB, INACTIVE_USER, Faults


def patches(sim) -> list[int]:
    return [r.conversation_id for r in sim.state.log.records if r.method == "PATCH"]


# --- --resume --retry-failed ------------------------------------------------------------

def test_retry_failed_resends_a_failed_row_that_a_later_failed_row_did_not_supersede(
        tmp_path, make_sim, cli):
    """The leaver's conversation: row 1 (to Alice) fails on a 500, row 2 (to an inactive
    user) is refused. Nothing later succeeded, so row 1 must go again."""
    sim = make_sim()
    sim.state.conversations[5].assigned_user_id = BOB
    job = write_job(tmp_path / "job.csv", [("5", "", ALICE), ("5", "", INACTIVE_USER)])
    sim.script(5, ["500", "500"])
    assert cli("run", job, "--yes", "--max-attempts", "2", env=sim_env(sim)).code == 1
    report = tmp_path / "job.report.csv"
    assert [r["outcome"] for r in read_report(report)] == ["failed", "failed"]
    before = len(patches(sim))

    again = cli("run", job, "--yes", "--resume", "--retry-failed", env=sim_env(sim))

    assert again.code == 1
    assert patches(sim)[before:] == [5, 5]  # row 1 again, then row 2 (refused again)
    assert sim.state.conversations[5].assigned_user_id == ALICE
    assert [r["outcome"] for r in read_report(report)] == ["ok", "failed"]


# --- a full disk ------------------------------------------------------------------------

def test_a_full_disk_under_the_undo_journal_stops_with_the_rows_skipped_and_resumable(
        tmp_path, make_sim, cli, monkeypatch):
    from worker.run import undo as undo_mod

    real_init = undo_mod.UndoJournal.__init__

    class FullAfter:
        """The journal's file (its header written): the 4th conversation finds it full."""

        def __init__(self, f):
            self._f, self.lines = f, 0

        def write(self, text):
            self.lines += text.count("\n")
            if self.lines >= 4:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self._f.write(text)

        def __getattr__(self, name):
            return getattr(self._f, name)

    def init(self, path, *, keep):
        real_init(self, path, keep=keep)
        import csv

        self._file = FullAfter(self._file)
        self._writer = csv.writer(self._file)

    monkeypatch.setattr(undo_mod.UndoJournal, "__init__", init)
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 11)])
    undo = tmp_path / "undo.csv"
    flags = ["--yes", "--concurrency", "1", "--undo-out", undo]

    result = cli("run", job, *flags, env=sim_env(sim))

    assert result.code == 3, result.err
    assert "No space left on device" in result.err and "undo journal" in result.err
    assert f"--report {tmp_path / 'job.report.csv'} --resume" in result.err
    assert "internal error" not in result.err + result.out
    rows = read_report(tmp_path / "job.report.csv")
    assert [r["outcome"] for r in rows] == ["ok"] * 3 + ["skipped"] * 7
    assert patches(sim) == [1, 2, 3]  # the 4th conversation's state was not kept: unsent
    assert "internal error" not in "".join(r["error"] for r in rows)

    monkeypatch.setattr(undo_mod.UndoJournal, "__init__", real_init)
    finished = cli("run", job, *flags[:3], "--resume", "--undo-out", undo, env=sim_env(sim))
    assert finished.code == 0, finished.err
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == ["ok"] * 10
    journal = (tmp_path / "undo.csv.journal.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in journal[1:]] == [str(i) for i in range(1, 11)]


# --- settings -----------------------------------------------------------------------------

def test_a_base_url_with_a_password_is_refused_without_printing_it(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    summary = tmp_path / "s.json"
    url = sim.base_url.replace("http://", "http://ops:Hunter2-pw-secret@")
    result = cli("run", job, "--yes", "--summary-json", summary,
                 env=sim_env(sim, PARTOO_BASE_URL=url))
    assert result.code == 2
    assert "user or a password" in result.err
    assert "Hunter2-pw-secret" not in result.err + result.out
    assert "Hunter2-pw-secret" not in summary.read_text(encoding="utf-8")
    assert sim.state.log.stats()["requests"] == 0


@pytest.mark.parametrize("port", ["99999", "0", "http"])
def test_an_impossible_port_is_a_settings_error_with_a_summary(tmp_path, make_sim, cli, port):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    summary = tmp_path / "s.json"
    result = cli("run", job, "--yes", "--summary-json", summary,
                 env=sim_env(sim, PARTOO_BASE_URL=f"http://127.0.0.1:{port}/v2"))
    assert result.code == 2, result.err
    assert "port must be a number from 1 to 65535" in result.err
    assert "internal error" not in result.err and "bug" not in result.err
    assert json.loads(summary.read_text(encoding="utf-8"))["exit_code"] == 2


def test_a_settings_error_names_only_flags_that_exist(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    bad_key = cli("run", job, "--yes", env=sim_env(sim, PARTOO_API_KEY="two words"))
    burst = cli("run", job, "--yes", env=sim_env(sim, PARTOO_BURST="0"))
    rate = cli("run", job, "--yes", env=sim_env(sim, PARTOO_RATE_PER_MINUTE="-1"))
    assert bad_key.code == burst.code == rate.code == 2
    assert "--api-key" not in bad_key.err and "PARTOO_API_KEY" in bad_key.err
    assert "--burst" not in burst.err and "PARTOO_BURST" in burst.err
    assert "--rate-per-minute or PARTOO_RATE_PER_MINUTE" in rate.err


def test_a_key_with_an_accent_is_not_blamed_on_windows(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    accented = cli("run", job, "--yes", env=sim_env(sim, PARTOO_API_KEY="sk-clé-5f1d9c0e"))
    windows = cli("run", job, "--yes", env=sim_env(sim, PARTOO_API_KEY="sk-5f\r1d9c0e"))
    assert accented.code == 2 and "not ASCII" in accented.err
    assert "Windows" not in accented.err and "CR" not in accented.err
    assert "é" not in accented.err  # which character: that is part of the key
    assert windows.code == 2 and "PARTOO_API_KEY" in windows.err


# --- select ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, said", [
    ("cursor", "a cursor it already gave on page 1"),
    ("same_page", "brought no conversation that was not listed before"),
])
def test_select_stops_on_a_listing_that_goes_round(tmp_path, make_sim, cli, mode, said):
    sim = make_sim(n_conversations=30, faults=Faults(list_loop=mode))
    out = tmp_path / "job.csv"
    result = cli("select", "--unsolved", "--action", "close", "--out", out,
                 env=sim_env(sim))
    assert result.code == 3, result.err
    assert said in result.err and "would never end" in result.err
    assert not out.exists()
    assert sim.state.log.stats()["requests"] <= 10


def test_a_listing_of_one_page_says_request_not_requests(tmp_path, make_sim, cli):
    sim = make_sim(faults=Faults(force_status=500, on_get=True))
    result = cli("select", "--action", "close", "--out", tmp_path / "j.csv",
                 env=sim_env(sim, PARTOO_MAX_ATTEMPTS="1"))
    assert result.code == 3 and "(after 1 request)" in result.err


# --- plain messages -------------------------------------------------------------------------

def test_one_row_reads_as_one_row(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "", INACTIVE_USER)])
    run = cli("run", job, "--yes", env=sim_env(sim))
    assert "1 row: 0 ok, 1 failed" in run.out and "| 1 request, " in run.out
    report = cli("report", tmp_path / "job.report.csv")
    assert "why 1 row is not ok" in report.out


def test_a_401_row_says_what_happened_once(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    result = cli("run", job, "--yes", "--concurrency", "1",
                 env=sim_env(sim, PARTOO_API_KEY=SECRET + "-revoked"))
    assert result.code == 3
    first = read_report(tmp_path / "job.report.csv")[0]["error"]
    assert first.count("401") == 1 and first.count("not authenticated") == 1, first
    assert "after 1 attempt:" in first and "attempt(s)" not in first


def test_a_full_disk_when_writing_the_undo_job_says_so_and_resume_writes_it(
        tmp_path, make_sim, cli, monkeypatch):
    from worker.run import undo as undo_mod

    real = undo_mod.undo_rows

    def full(*args, **kwargs):  # while the undo job's rows are written
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(undo_mod, "undo_rows", full)
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 6)])
    undo = tmp_path / "undo.csv"
    result = cli("run", job, "--yes", "--undo-out", undo, env=sim_env(sim))
    assert result.code == 3
    assert f"{undo}: writing the undo job failed (No space left on device)" in result.err
    assert "--resume --undo-out" in result.err and "internal error" not in result.err
    assert not undo.exists() and not (tmp_path / "undo.csv.tmp").exists()

    monkeypatch.setattr(undo_mod, "undo_rows", real)
    before = len(patches(sim))
    again = cli("run", job, "--yes", "--resume", "--undo-out", undo, env=sim_env(sim))
    assert again.code == 0 and undo.exists()
    assert len(patches(sim)) == before  # every row was final: nothing sent again
