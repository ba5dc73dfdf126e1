"""The CSV files we write open where the job came from: a job saved by French Excel (`;`
and a BOM) gets a report, a retry job and an undo job in `;` with a BOM; `--csv-dialect`
(the `csv_dialect` setting) says otherwise; every reader of ours reads either.

Through the real CLI (and the Python API) against the simulator; what a spreadsheet
sees is checked on the bytes, what happened on the server's state.
"""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path

import pytest

import worker
from helpers import csv_dialect, read_csv, sim_env, start_worker, wait_for_lines
from worker.core.columns import REPORT_COLUMNS
from worker.simulator import ALICE, BOB

BOM = b"\xef\xbb\xbf"
EXCEL_FR = (";", True)
COMMA = (",", False)


def write_excel_fr(path: Path, rows: list[tuple[str, ...]],
                   header=("conversation_id", "status", "assigned_user_id", "note")) -> Path:
    """A job as French Excel saves it ("CSV UTF-8 (délimité par des points-virgules)")."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def one_bom(path: Path) -> bool:
    """A BOM at the top and nowhere else (a BOM mid-file shows as a stray character)."""
    data = path.read_bytes()
    return data.startswith(BOM) and data.count(BOM) == 1


def state(sim, cid: int) -> tuple[str, str]:
    c = sim.state.conversations[cid]
    return ("closed" if c.is_solved else "open"), (c.assigned_user_id or "unassigned")


def settled(path: Path) -> set[int]:
    """The conversations of the rows a killed run's file holds whole lines of (ok: sent)."""
    text = path.read_text(encoding="utf-8-sig")
    whole = text[: text.rfind("\n") + 1]
    return {int(r["conversation_id"]) for r in csv.DictReader(whole.splitlines(),
                                                                delimiter=";")
            if r["outcome"] == "ok"}


def patches(sim) -> list[int]:
    return [r.conversation_id for r in sim.state.log.records if r.method == "PATCH"]


# Conversations 1..9 (none expired: every 10th is); notes a spreadsheet must keep whole.
ROWS = [("1", "closed", "", "café; crème"), ("2", "", ALICE, "a, b"),
        ("3", "open", "", 'dit "oui"'), ("4", "", "unassigned", "deux\nlignes"),
        ("5", "closed", "", "=1+1"), ("6", "", BOB, "")]


def test_an_excel_fr_job_gets_an_excel_fr_report_whose_rows_are_the_servers_state(
        tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_excel_fr(tmp_path / "job.csv", [*ROWS, ("abc", "closed", "", "invalid")])

    result = cli("run", job, "--yes", env=sim_env(sim))

    assert result.code == 1  # the invalid row
    report = tmp_path / "job.report.csv"
    assert csv_dialect(report) == EXCEL_FR and one_bom(report)
    assert report.read_bytes()[3:].startswith(";".join(REPORT_COLUMNS).encode() + b";note")
    rows = read_csv(report)
    assert [r["row"] for r in rows] == [str(i) for i in range(1, 8)]
    assert [r["note"] for r in rows] == [r[3] for r in ROWS[:4]] + ["'=1+1", "", "invalid"]
    for row, (cid, status, assignee, _note) in zip(rows, ROWS, strict=False):
        assert row["outcome"] == "ok" and row["conversation_id"] == cid
        assert state(sim, int(cid))[0 if status else 1] == (status or assignee)
    assert rows[-1]["outcome"] == "invalid"
    # Our own readers take it as it is: `report`, its JSON, and `verify` reading it back.
    assert "6 ok" in cli("report", report, env={}).out
    assert cli("verify", report, env=sim_env(sim)).code == 0


def test_report_failed_and_undo_out_of_an_excel_fr_run_are_excel_fr_and_run_again(
        tmp_path, make_sim, cli):
    sim = make_sim()
    before = {cid: state(sim, cid) for cid in range(1, 7)}
    job = write_excel_fr(tmp_path / "job.csv", ROWS)
    sim.script(3, ["400"])  # refused: fixed, then sent again from the retry job
    undo = tmp_path / "undo.csv"

    assert cli("run", job, "--yes", "--undo-out", undo, env=sim_env(sim)).code == 1
    retry = tmp_path / "retry.csv"
    written = cli("report", tmp_path / "job.report.csv", "--failed", retry, env={})

    assert written.code == 0
    assert csv_dialect(retry) == EXCEL_FR and one_bom(retry)
    assert [(r["conversation_id"], r["status"], r["note"]) for r in read_csv(retry)] == \
        [("3", "open", 'dit "oui"')]
    assert cli("run", retry, "--yes", env=sim_env(sim)).code == 0
    assert state(sim, 3)[0] == "open"
    retried = tmp_path / "retry.report.csv"
    assert csv_dialect(retried) == EXCEL_FR and read_csv(retried)[0]["outcome"] == "ok"

    assert csv_dialect(undo) == EXCEL_FR and one_bom(undo)
    assert {r["conversation_id"] for r in read_csv(undo)} <= {str(c) for c in range(1, 7)}
    restored = cli("run", undo, "--yes", "--report", tmp_path / "undo.report.csv",
                   env=sim_env(sim))
    assert restored.code == 0, restored.err
    after = {cid: state(sim, cid) for cid in range(1, 7)}
    # Row 3 was refused in the run the undo job is of: the retry's change stays.
    assert {c: s for c, s in after.items() if c != 3} == \
        {c: s for c, s in before.items() if c != 3}


def test_csv_dialect_comma_overrides_the_jobs_for_the_report_and_the_undo_job(
        tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_excel_fr(tmp_path / "job.csv", ROWS)
    undo = tmp_path / "undo.csv"

    result = cli("run", job, "--yes", "--csv-dialect", "comma", "--undo-out", undo,
                 env=sim_env(sim))

    assert result.code == 0
    report = tmp_path / "job.report.csv"
    for path in (report, undo):
        assert csv_dialect(path) == COMMA and BOM not in path.read_bytes()
    assert [r["note"] for r in read_csv(report)][:2] == ["café; crème", "a, b"]
    # And the other way round, from the environment (or a config file): a comma job
    # gets an excel-fr report.
    plain = tmp_path / "plain.csv"
    plain.write_text("conversation_id,status\n7,closed\n", encoding="utf-8")
    assert cli("run", plain, "--yes", env=sim_env(sim, PARTOO_CSV_DIALECT="excel-fr")).code == 0
    assert csv_dialect(tmp_path / "plain.report.csv") == EXCEL_FR


def test_a_config_file_sets_the_dialect_and_a_flag_wins_over_it(tmp_path, make_sim, cli):
    sim = make_sim()
    config = tmp_path / "config.toml"
    config.write_text('csv_dialect = "excel-fr"\n', encoding="utf-8")
    plain = tmp_path / "plain.csv"
    plain.write_text("conversation_id,status\n7,closed\n", encoding="utf-8")

    assert cli("run", plain, "--yes", "--config", config, env=sim_env(sim)).code == 0
    assert csv_dialect(tmp_path / "plain.report.csv") == EXCEL_FR
    assert cli("run", plain, "--yes", "--overwrite", "--config", config,
               "--csv-dialect", "auto", env=sim_env(sim)).code == 0
    assert csv_dialect(tmp_path / "plain.report.csv") == COMMA


def test_a_wrong_dialect_is_refused_before_anything_is_sent(tmp_path, make_sim, cli,
                                                            capsys):
    sim = make_sim()
    job = write_excel_fr(tmp_path / "job.csv", ROWS)

    with pytest.raises(SystemExit) as usage:
        cli("run", job, "--yes", "--csv-dialect", "excel", env=sim_env(sim))
    flag = capsys.readouterr().err
    env = cli("run", job, "--yes", env=sim_env(sim, PARTOO_CSV_DIALECT="semicolon"))

    assert usage.value.code == env.code == 2
    assert "--csv-dialect" in flag and "'excel-fr'" in flag
    assert "csv_dialect" in env.err and "PARTOO_CSV_DIALECT" in env.err
    assert "'excel-fr'" in env.err and "Traceback" not in env.err
    assert patches(sim) == [] and not (tmp_path / "job.report.csv").exists()
    report = cli("report", tmp_path / "none.csv", "--csv-dialect", "comma", env={})
    assert report.code == 2 and "--csv-dialect goes with --failed OUT" in report.err


def test_a_killed_excel_fr_run_resumes_in_excel_fr_whatever_the_flag_says(tmp_path, make_sim,
                                                                          cli):
    """Killed twice (the second time while the resumed run writes R.partial), then
    resumed asking for comma: the report stays in the one dialect it started in, says
    so, and has every row once, none sent twice."""
    sim = make_sim(n_conversations=400)
    rows = [(str(i), "closed" if i % 2 else "", "" if i % 2 else ALICE, f"n°{i}; ok")
            for i in range(1, 301)]
    job = write_excel_fr(tmp_path / "job.csv", rows)
    report = tmp_path / "job.report.csv"
    partial = tmp_path / "job.report.csv.partial"
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="3000")

    first = start_worker(job, env, "--quiet")
    wait_for_lines(report, 60, first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    by_first, first_sent = settled(report), len(patches(sim))
    second = start_worker(job, env, "--quiet", "--resume")
    wait_for_lines(partial, 120, second)
    second.send_signal(signal.SIGKILL)
    second.wait()
    assert csv_dialect(partial) == EXCEL_FR
    by_second, second_sent = settled(partial) - by_first, len(patches(sim))
    assert len(by_first | by_second) >= 100

    resumed = cli("run", job, "--yes", "--resume", "--csv-dialect", "comma",
                  env=sim_env(sim))

    assert resumed.code == 0, resumed.err
    assert "not in comma (--csv-dialect)" in resumed.err
    assert "';' with a BOM (excel-fr)" in resumed.err
    assert csv_dialect(report) == EXCEL_FR and one_bom(report)
    lines = read_csv(report)
    assert [int(r["row"]) for r in lines] == list(range(1, 301))
    assert {r["outcome"] for r in lines} == {"ok"}
    assert [r["note"] for r in lines] == [r[3] for r in rows]
    assert not partial.exists()
    for cid, status, assignee, _note in rows:
        assert state(sim, int(cid))[0 if status else 1] == (status or assignee)
    sent = patches(sim)
    assert set(sent) == set(range(1, 301))
    # Each run's PATCHes, apart: a row a run reported is never sent by a later run, and
    # the PATCHes its run sent for it are the attempts its line says (more than one only
    # if a request timed out on a loaded machine and was retried before the row was
    # reported). A row in flight at a kill may have cost that run a PATCH: not counted.
    runs = [sent[:first_sent], sent[first_sent:second_sent], sent[second_sent:]]
    attempts = {int(r["conversation_id"]): int(r["attempts"]) for r in lines}
    by_third = set(range(1, 301)) - by_first - by_second
    for run, rows_reported in enumerate((by_first, by_second, by_third)):
        later = [cid for patched in runs[run + 1:] for cid in patched]
        assert not rows_reported & set(later), f"run {run + 1}'s rows sent again"
        assert {cid: runs[run].count(cid) for cid in rows_reported} == \
            {cid: attempts[cid] for cid in rows_reported}, f"run {run + 1}"


def test_retry_failed_on_an_excel_fr_report_sends_the_failed_rows_into_it(tmp_path,
                                                                        make_sim, cli):
    sim = make_sim()
    job = write_excel_fr(tmp_path / "job.csv", ROWS)
    sim.script(2, ["500"] * 10)

    assert cli("run", job, "--yes", "--max-attempts", "2", env=sim_env(sim)).code == 1
    sim.script(2, [])
    again = cli("run", job, "--yes", "--resume", "--retry-failed", env=sim_env(sim))

    assert again.code == 0 and "csv-dialect" not in again.err  # auto: nothing to say
    report = tmp_path / "job.report.csv"
    assert csv_dialect(report) == EXCEL_FR and one_bom(report)
    assert {r["outcome"] for r in read_csv(report)} == {"ok"}
    assert state(sim, 2)[1] == ALICE


def test_select_writes_comma_unless_told_and_excel_fr_when_told(tmp_path, make_sim, cli):
    sim = make_sim()
    # Not the expired ones: closed, they could not be re-opened by the undo job.
    base = ("select", "--action", "close", "--unsolved", "--skip-expired", "--quiet")
    plain, fr, undo = tmp_path / "plain.csv", tmp_path / "fr.csv", tmp_path / "undo.csv"

    assert cli(*base, "--out", plain, env=sim_env(sim)).code == 0
    assert cli(*base, "--out", fr, "--undo-out", undo, "--csv-dialect", "excel-fr",
               env=sim_env(sim)).code == 0

    assert csv_dialect(plain) == COMMA and BOM not in plain.read_bytes()
    for path in (fr, undo):
        assert csv_dialect(path) == EXCEL_FR and one_bom(path)
    assert read_csv(fr) == read_csv(plain)  # the same job, in another dialect
    # It is a job as any other: planned, run (its report follows it), undone.
    assert "0 invalid" in cli("plan", fr, env={}).out
    assert cli("run", fr, "--yes", env=sim_env(sim)).code == 0
    assert csv_dialect(tmp_path / "fr.report.csv") == EXCEL_FR
    closed = [int(r["conversation_id"]) for r in read_csv(fr)]
    assert closed and all(state(sim, cid)[0] == "closed" for cid in closed)
    assert cli("run", undo, "--yes", env=sim_env(sim)).code == 0
    assert all(state(sim, cid)[0] == "open" for cid in closed)


def test_report_failed_on_stdout_and_in_comma_when_asked(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_excel_fr(tmp_path / "job.csv", ROWS)
    sim.script(1, ["404"])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 1
    report = tmp_path / "job.report.csv"

    comma = cli("report", report, "--failed", tmp_path / "c.csv", "--csv-dialect", "comma",
                env={})
    out = cli("report", report, "--failed", "-", env={})

    assert comma.code == 0 and csv_dialect(tmp_path / "c.csv") == COMMA
    assert out.out.startswith("\ufeffconversation_id;status;assigned_user_id;note\n")
    assert out.out.count("\n") == 2


# --- the Python API ---------------------------------------------------------------------

@pytest.fixture
def api_env(make_sim, monkeypatch):
    for name in list(os.environ):
        if name.startswith("PARTOO_"):
            monkeypatch.delenv(name)
    sim = make_sim()
    settings = {k.removeprefix("PARTOO_").lower(): v for k, v in sim_env(sim).items()}
    return sim, settings


def test_the_python_api_follows_the_job_and_takes_csv_dialect_as_a_setting(tmp_path,
                                                                         api_env, capsys):
    sim, settings = api_env
    job = write_excel_fr(tmp_path / "job.csv", ROWS)

    followed = worker.run_job(job, settings=settings)
    asked = worker.run_job(job, report=tmp_path / "comma.csv",
                           settings={**settings, "csv_dialect": "comma"})

    assert followed.exit_code == asked.exit_code == 0
    for cid, status, assignee, _note in ROWS:
        assert state(sim, int(cid))[0 if status else 1] == (status or assignee)
    assert csv_dialect(followed.report) == EXCEL_FR and one_bom(followed.report)
    assert csv_dialect(asked.report) == COMMA
    assert [r["note"] for r in read_csv(asked.report)] == \
        [r["note"] for r in read_csv(followed.report)]
    # A resume keeps the report's dialect, and the API prints nothing about it.
    resumed = worker.run_job(job, report=followed.report, resume=True,
                             settings={**settings, "csv_dialect": "comma"})
    assert resumed.counts["ok"] == 6 and csv_dialect(followed.report) == EXCEL_FR
    assert capsys.readouterr().err == ""
    with pytest.raises(worker.StartupError, match="csv_dialect"):
        worker.run_job(job, report=tmp_path / "x.csv",
                       settings={**settings, "csv_dialect": "semicolon"})
    assert not (tmp_path / "x.csv").exists()
