"""--resume: continue a report after a crash, keep what is final, refuse what is foreign."""

from __future__ import annotations

from helpers import read_report, sim_env, write_job
from worker.simulator import Faults


def patches(sim) -> list[int]:
    return [r.conversation_id for r in sim.state.log.records if r.method == "PATCH"]


def torn_copy(report, keep_lines: int) -> None:
    """Make `report` look like a kill -9 hit it: `keep_lines` whole lines, then half a line."""
    lines = report.read_text(encoding="utf-8").splitlines(keepends=True)
    report.write_text("".join(lines[:keep_lines]) + lines[keep_lines][:17], encoding="utf-8")


def test_resume_after_a_torn_report_sends_only_what_is_missing(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 41)])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    report = tmp_path / "job.report.csv"
    torn_copy(report, keep_lines=1 + 25)  # header + rows 1..25, then half of row 26
    before = len(patches(sim))

    result = cli("run", job, "--yes", "--resume", env=sim_env(sim))

    assert result.code == 0
    rows = read_report(report)
    assert [int(r["row"]) for r in rows] == list(range(1, 41))
    assert all(r["outcome"] == "ok" for r in rows)
    assert sorted(patches(sim)[before:]) == list(range(26, 41))  # 1..25 not sent again
    assert "(25 kept from the earlier report)" in result.out
    assert not (tmp_path / "job.report.csv.partial").exists()


def test_resume_keeps_failed_and_invalid_rows_unless_retry_failed(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", ""),
                                           ("x", "closed", ""), ("3", "closed", "")])
    sim.script(2, ["500"] * 10)
    first = cli("run", job, "--yes", "--max-attempts", "2", env=sim_env(sim))
    assert first.code == 1
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == \
        ["ok", "failed", "invalid", "ok"]
    before = len(patches(sim))

    again = cli("run", job, "--yes", "--resume", env=sim_env(sim))
    assert again.code == 1 and patches(sim)[before:] == []

    sim.script(2, [])  # the outage is over
    retried = cli("run", job, "--yes", "--resume", "--retry-failed", env=sim_env(sim))
    assert retried.code == 1  # the invalid row stays invalid
    assert patches(sim)[before:] == [2]
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == \
        ["ok", "ok", "invalid", "ok"]


def test_skipped_rows_are_sent_on_resume(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 11)])
    sim.script(4, ["401"])  # a key revoked mid-run: the run aborts, the rest is skipped
    aborted = cli("run", job, "--yes", "--concurrency", "1", env=sim_env(sim))
    assert aborted.code == 3
    assert "--resume" in aborted.err
    outcomes = [r["outcome"] for r in read_report(tmp_path / "job.report.csv")]
    assert outcomes[:3] == ["ok"] * 3 and set(outcomes[3:]) == {"skipped"}
    before = len(patches(sim))

    resumed = cli("run", job, "--yes", "--resume", env=sim_env(sim))
    assert resumed.code == 0  # row 4, which met the 401, is sent again with the rest
    assert sorted(patches(sim)[before:]) == list(range(4, 11))
    assert {r["outcome"] for r in read_report(tmp_path / "job.report.csv")} == {"ok"}


def test_resume_refuses_a_report_of_another_job(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    report = tmp_path / "r.csv"
    assert cli("run", job, "--yes", "--report", report, env=sim_env(sim)).code == 0
    write_job(job, [("1", "closed", ""), ("2", "closed", "")])  # the job file changed
    result = cli("run", job, "--yes", "--resume", "--report", report, env=sim_env(sim))
    assert result.code == 2 and "another job file" in result.err
    other = write_job(tmp_path / "other.csv", [("9", "open", "")])
    result = cli("run", other, "--yes", "--resume", "--report", report, env=sim_env(sim))
    assert result.code == 2 and "another job file" in result.err


def test_resume_refuses_other_action_flags(tmp_path, make_sim, cli):
    sim = make_sim()
    ids = tmp_path / "ids.txt"
    ids.write_text("1\n2\n")
    assert cli("run", ids, "--action", "close", "--yes", env=sim_env(sim)).code == 0
    result = cli("run", ids, "--action", "open", "--yes", "--resume", env=sim_env(sim))
    assert result.code == 2 and "other action flags" in result.err
    assert "--action close" in result.err


def test_resume_without_a_report_simply_starts(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    assert cli("run", job, "--yes", "--resume", env=sim_env(sim)).code == 0
    assert read_report(tmp_path / "job.report.csv")[0]["outcome"] == "ok"


def test_a_resume_killed_midway_is_consolidated(tmp_path, make_sim, cli):
    """R.partial (rows 1..k of the resumed run) + R (the rest) -> one report."""
    sim = make_sim(faults=Faults(error_before=0.2, seed=4))
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 31)])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    report = tmp_path / "job.report.csv"
    full = report.read_text(encoding="utf-8").splitlines(keepends=True)
    # The first run was killed after row 10; a resume then got to row 20 and was killed.
    report.write_text("".join(full[:11]), encoding="utf-8")
    partial = tmp_path / "job.report.csv.partial"
    partial.write_text("".join(full[:21]) + full[21][:9], encoding="utf-8")
    before = len(patches(sim))

    assert cli("run", job, "--yes", "--resume", env=sim_env(sim)).code == 0

    assert sorted(set(patches(sim)[before:])) == list(range(21, 31))
    assert [int(r["row"]) for r in read_report(report)] == list(range(1, 31))
    assert not partial.exists()


def test_a_report_without_its_meta_file_is_not_resumed_blindly(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    (tmp_path / "job.report.csv.meta.json").unlink()
    result = cli("run", job, "--yes", "--resume", env=sim_env(sim))
    assert result.code == 2 and "meta.json is missing" in result.err


def test_retry_failed_does_not_resend_a_row_a_later_ok_row_superseded(tmp_path, make_sim,
                                                                       cli):
    """Row 1 (assign Alice) failed, row 3 (assign Bob) was ok: the file says Bob wins."""
    from worker.simulator import ALICE, BOB

    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("5", "", ALICE), ("5", "closed", ""),
                                           ("5", "", BOB), ("6", "", BOB)])
    assert sim.state.conversations[6].assigned_user_id == ALICE  # so row 4 changes it
    sim.script(5, ["500", "500"])  # row 1 fails twice: gives up at --max-attempts 2
    sim.script(6, ["500", "500"])
    assert cli("run", job, "--yes", "--max-attempts", "2", env=sim_env(sim)).code == 1
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == \
        ["failed", "ok", "ok", "failed"]
    before = len(patches(sim))
    assert cli("run", job, "--yes", "--resume", "--retry-failed", env=sim_env(sim)).code == 1
    assert patches(sim)[before:] == [6]  # row 1 is superseded by row 3; row 4 is retried
    assert sim.state.conversations[5].assigned_user_id == BOB
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == \
        ["failed", "ok", "ok", "ok"]


def test_a_cell_of_a_whole_mebibyte_starting_with_a_formula_resumes_whole(tmp_path, make_sim,
                                                                          cli):
    # The largest cell a job may hold is written one byte longer (the neutralising quote):
    # the resume must read that line back, not take it for a torn one and re-send the rest.
    big = "=" + "x" * ((1 << 20) - 1)
    sim = make_sim()
    job = tmp_path / "job.csv"
    rows = [(str(i), "closed", big if i == 2 else "n") for i in range(1, 6)]
    write_job(job, rows, header=("conversation_id", "status", "note"))
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    report = tmp_path / "job.report.csv"
    assert read_report(report)[1]["note"] == "'" + big
    before = len(patches(sim))

    again = cli("run", job, "--yes", "--resume", env=sim_env(sim))

    assert again.code == 0
    assert patches(sim)[before:] == []  # every row kept, none sent twice
    assert [r["outcome"] for r in read_report(report)] == ["ok"] * 5
    assert read_report(report)[1]["note"] == "'" + big


def test_a_job_cell_over_a_mebibyte_is_refused_before_anything_is_sent(tmp_path, make_sim,
                                                                        cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "x" * ((1 << 20) + 1))],
                    header=("conversation_id", "status", "note"))
    result = cli("run", job, "--yes", env=sim_env(sim))
    assert result.code == 2
    assert "line 2: a cell is over 1024 KB" in result.err
    assert patches(sim) == []
