"""`partoo-bulk report R`, driven as a user would: counts, grouped errors, the failed rows
as a new job (run again against the simulator), and the errors a user can cause."""

from __future__ import annotations

import csv

import pytest

from helpers import read_report, sim_env, write_job
from worker.core.columns import REPORT_COLUMNS
from worker.simulator import ALICE, BOB, BOT_USER, INACTIVE_USER

EXPIRED = 10  # seeded_state: every tenth conversation is expired (cannot be re-opened)


def write_report(path, rows, extras=()):
    """A report as `run` writes it: (row, id, action, value, outcome, status, error, *extras).

    A failed row's fault is what `run` decides for Partoo's own answers: a 4xx other than
    408 and 429 is a refusal, anything else an outage."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*REPORT_COLUMNS, *extras])
        for row, cid, action, value, outcome, status, error, *more in rows:
            refused = str(status).startswith("4") and str(status) not in ("408", "429")
            fault = "" if outcome != "failed" else "refused" if refused else "outage"
            writer.writerow([row, cid, action, value, outcome, status, 1, error, 5,
                             "2024-05-01T00:00:00.000+00:00", fault, *more])
    return path


def patched_ids(sim, since=0):
    return [r.conversation_id for r in sim.state.log.records[since:] if r.method == "PATCH"]


def test_a_real_run_read_back_counts_statuses_and_groups_errors(tmp_path, make_sim, cli):
    sim = make_sim()
    rows = [(str(i), "closed", "") for i in range(1, 21)]
    rows += [(str(EXPIRED * k), "open", "") for k in (1, 2, 3)]  # 400 expired, x3
    rows += [("5", "", BOT_USER), ("6", "", INACTIVE_USER), ("abc", "closed", "")]
    job = write_job(tmp_path / "job.csv", rows)
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 1

    result = cli("report", tmp_path / "job.report.csv", env={})

    assert result.code == 0, result.err
    out = result.out
    assert "26 rows: 20 ok (77%), 5 failed (19%), 1 invalid (3.8%), 0 skipped" in out
    assert "  200   20\n  400    5\n  none   1" in out
    assert "why 6 rows are not ok (4 kinds of error, most frequent first):" in out
    assert ("  3 rows failed: 400 status: conversation is expired and cannot be re-opened  "
            "[rows 21, 22, 23]") in out
    assert "  1 row failed: 400 assigned_user_id: A bot cannot be assigned" in out
    assert "  1 row invalid: conversation_id 'abc' is not a conversation id" in out
    # What to do next names this report and its job, ready to copy.
    assert f"partoo-bulk report {tmp_path / 'job.report.csv'} --failed " \
           f"{tmp_path / 'job.retry.csv'}" in out
    assert f"partoo-bulk run {tmp_path / 'job.retry.csv'}" in out
    assert f"1 invalid: never sent. Fix them in {job}" in out


def test_ok_rows_known_by_reading_back_are_counted_apart(tmp_path, cli):
    report = write_report(tmp_path / "r.csv", [
        ("1", "1", "close", "", "ok", "200", ""),
        ("2", "2", "close", "", "ok", "200", "in effect, as reading it back shows; no "
         "answer to the change said so (last: 500 Internal Server Error)"),
        ("3", "3", "close", "", "ok", "200", "in effect, as reading it back shows; no "
         "answer to the change said so (last: the connection broke)")])
    result = cli("report", report, env={})
    assert result.code == 0
    assert "3 rows: 3 ok, 0 failed, 0 invalid, 0 skipped" in result.out
    assert "2 ok row(s) had no success answer; reading the conversation back showed " \
           "the change in effect (first: row 2;" in result.out
    assert "not ok" not in result.out


def test_errors_are_grouped_across_row_values_and_the_top_n_shown(tmp_path, cli):
    rows = [(i, str(i), "close", "", "ok", "200", "") for i in range(1, 101)]
    rows += [(101 + i, str(101 + i), "open", "", "failed", "400",
              "400 status: conversation is expired and cannot be re-opened") for i in range(412)]
    rows += [(600 + i, f"x{i}", "", "", "invalid", "",
              f"conversation_id 'x{i}' is not a conversation id: use digits") for i in range(7)]
    rows += [(700 + i, str(700 + i), "close", "", "failed", "503",
              f"503 Service Unavailable: empty body (gave up after {3 + i % 2} attempts)")
             for i in range(4)]
    rows += [(800 + i, str(800 + i), "assign", f"u{i}", "failed", "400",
              f"400 assigned_user_id: unknown user u{i}") for i in range(3)]
    report = write_report(tmp_path / "r.csv", rows)

    result = cli("report", report, "--top", "3", env={})

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "why 426 rows are not ok (6 kinds of error, most frequent first):" in lines
    top = lines[lines.index("why 426 rows are not ok (6 kinds of error, most frequent "
                            "first):") + 1:]
    assert top[0] == ("  412 rows failed: 400 status: conversation is expired and cannot be "
                      "re-opened  [rows 101, 102, 103, …]")
    assert top[1] == ("  7 rows invalid: conversation_id 'x0' is not a conversation id: use "
                      "digits  [rows 600, 601, 602, …; the values differ from row to row]")
    assert top[2].startswith("  4 rows failed: 503 Service Unavailable: empty body (gave up after "
                             "3 attempts)  [rows 700, 701, 702, …; the values differ")
    # The unknown users differ by a bare word, not a quoted value: three kinds, not one.
    assert top[3] == "  ... and 3 more kinds (3 rows): see the error column of the report, " \
                     "or --top N"
    assert "once the API is well, send them again in place" in result.out


def test_failed_rows_become_a_job_that_sends_only_them(tmp_path, make_sim, cli):
    sim = make_sim()
    for cid in (3, 7, 8):
        sim.script(cid, ["403"])  # refused once: the "cause" that gets fixed
    rows = [(str(i), "closed", "") for i in range(1, 11)]
    rows += [("12", "", ALICE), ("13", "", BOB)]
    sim.script(13, ["404"])
    job = write_job(tmp_path / "job.csv", rows, header=("conversation_id", "status",
                                                        "assigned_user_id"))
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 1
    report = tmp_path / "job.report.csv"
    retry = tmp_path / "retry.csv"

    made = cli("report", report, "--failed", retry, env={})

    assert made.code == 0, made.err
    assert f"wrote 4 failed rows to {retry}" in made.out
    assert retry.read_text() == ("conversation_id,status,assigned_user_id\n3,closed,\n"
                                 f"7,closed,\n8,closed,\n13,,{BOB}\n")
    assert cli("plan", retry, env={}).code == 0
    before = len(sim.state.log.records)
    again = cli("run", retry, "--yes", env=sim_env(sim))
    assert again.code == 0, again.err
    assert sorted(patched_ids(sim, before)) == [3, 7, 8, 13]
    assert all(sim.state.conversations[i].is_solved for i in (3, 7, 8))
    assert sim.state.conversations[13].assigned_user_id == BOB
    assert [r["outcome"] for r in read_report(tmp_path / "retry.report.csv")] == ["ok"] * 4


def test_a_failed_row_overridden_later_is_left_out_so_it_cannot_undo(tmp_path, cli):
    report = write_report(tmp_path / "r.csv", [
        (1, "21", "assign", INACTIVE_USER, "failed", "400", "400 User is not active."),
        (2, "21", "close", "", "failed", "503", "503 gave up"),
        (3, "21", "unassign", "", "ok", "200", ""),  # overrides row 1, not row 2
        (4, "22", "assign", INACTIVE_USER, "failed", "400", "400 User is not active."),
        (5, "22", "assign", ALICE, "failed", "400", "400 other"),
        (6, "23", "close", "", "ok", "200", ""),
        (7, "23", "open", "", "failed", "400", "400 expired"),  # after the ok: kept
    ])
    out = tmp_path / "retry.csv"
    result = cli("report", report, "--failed", out, env={})
    assert result.code == 0, result.err
    assert out.read_text().splitlines() == [
        "conversation_id,status,assigned_user_id", "21,closed,",
        f"22,,{INACTIVE_USER}", f"22,,{ALICE}", "23,open,"]
    assert "left out 1 row that a later row of the same conversation overrode with " \
           "success (sending them now would undo it): row 1" in result.out


def test_skipped_rows_join_with_skipped_and_extra_columns_keep_their_quote(tmp_path, cli):
    report = write_report(tmp_path / "r.csv", [
        (1, "1", "close", "", "ok", "200", "", "T-1", "fine"),
        (2, "'\t2", "assign", "'-odd-user", "failed", "400", "400 no", "T-2", "'=HYPERLINK(1)"),
        (3, "3", "open", "", "skipped", "", "not attempted: run interrupted (SIGINT)",
         "T-3", "x"),
        (4, "abc", "", "", "invalid", "", "conversation_id 'abc' is not ...", "T-4", "y"),
    ], extras=("ticket", "note"))
    # Exit 3: a skipped row means the run did not finish (the rows are written all the same).
    only_failed = cli("report", report, "--failed", tmp_path / "a.csv", env={})
    assert only_failed.code == 3 and "wrote 1 failed row to" in only_failed.out
    both = cli("report", report, "--failed", tmp_path / "b.csv", "--skipped", env={})
    assert both.code == 3 and "wrote 2 failed or skipped rows" in both.out
    with open(tmp_path / "b.csv", encoding="utf-8", newline="") as f:
        assert list(csv.reader(f)) == [
            ["conversation_id", "status", "assigned_user_id", "ticket", "note"],
            # id and user id as first sent; the extra cell stays neutralised
            ["2", "", "-odd-user", "T-2", "'=HYPERLINK(1)"],
            ["3", "open", "", "T-3", "x"],
        ]


def test_an_existing_out_is_never_replaced_without_overwrite(tmp_path, cli):
    report = write_report(tmp_path / "r.csv", [(1, "1", "close", "", "failed", "404", "404")])
    out = tmp_path / "retry.csv"
    out.write_text("precious\n")
    refused = cli("report", report, "--failed", out, env={})
    assert refused.code == 2
    assert "a file is already there: pass --overwrite" in refused.err
    assert out.read_text() == "precious\n"
    assert cli("report", report, "--failed", out, "--overwrite", env={}).code == 0
    assert out.read_text() == "conversation_id,status,assigned_user_id\n1,closed,\n"
    itself = cli("report", report, "--failed", report, "--overwrite", env={})
    assert itself.code == 2 and "that is the report itself" in itself.err
    folder = cli("report", report, "--failed", tmp_path / "no" / "x.csv", env={})
    assert folder.code == 2 and "does not exist" in folder.err
    alone = cli("report", report, "--skipped", env={})
    assert alone.code == 2 and "--skipped goes with --failed" in alone.err


def test_no_failed_rows_writes_a_header_only_job(tmp_path, cli):
    report = write_report(tmp_path / "r.csv", [(1, "1", "close", "", "ok", "200", "")])
    result = cli("report", report, "--failed", tmp_path / "retry.csv", env={})
    assert result.code == 0 and "nothing to send again" in result.out
    assert "every row is ok" not in result.out
    assert cli("report", report, env={}).out.endswith("every row is ok: nothing to do\n")


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such report: check the path"),
    ("", "the file is empty, so it is not a report"),
    ("conversation_id,status\n1,closed\n", "this is a job file, not a report"),
    ("row;conversation_id;action\n", "line 1: not a partoo-bulk report"),
    (",".join(REPORT_COLUMNS) + "\n1,1,close,,ok\n2,2,close,,ok,200,1,,5,t,\n",
     "line 2: not a report line (it should have 11 cells"),
])
def test_an_unreadable_report_exits_2_with_what_where_and_the_fix(tmp_path, cli, content,
                                                                   message):
    path = tmp_path / "r.csv"
    if content is not None:
        path.write_text(content)
    result = cli("report", path, env={})
    assert result.code == 2
    assert result.err.startswith(f"partoo-bulk: {path}") and message in result.err
    assert "Traceback" not in result.err and result.out == ""


def test_a_report_saved_in_latin1_is_refused(tmp_path, cli):
    path = tmp_path / "r.csv"
    path.write_bytes((",".join(REPORT_COLUMNS) + ",note\n1,1,close,,ok,200,1,,5,t,,café\n")
                     .encode("latin-1"))
    result = cli("report", path, env={})
    assert result.code == 2 and "not UTF-8" in result.err


def test_a_torn_last_line_is_left_out_with_a_note(tmp_path, cli):
    path = write_report(tmp_path / "r.csv", [(1, "1", "close", "", "ok", "200", ""),
                                             (2, "2", "close", "", "failed", "404", "404")])
    with open(path, "a", encoding="utf-8") as f:
        f.write("3,3,close,,fai")  # a kill -9 while writing
    result = cli("report", path, env={})
    assert result.code == 0
    assert "2 rows: 1 ok (50%), 1 failed (50%)" in result.out
    assert "last line" in result.err and "cut short" in result.err


def test_failed_refuses_a_report_out_of_row_order(tmp_path, cli):
    path = write_report(tmp_path / "r.csv", [(2, "2", "close", "", "failed", "404", "404"),
                                             (1, "1", "close", "", "failed", "404", "404")])
    assert cli("report", path, env={}).code == 0  # counting does not need the order
    result = cli("report", path, "--failed", tmp_path / "o.csv", env={})
    assert result.code == 2 and "not in row order" in result.err
    assert not (tmp_path / "o.csv").exists()


def test_messages_from_the_api_cannot_drive_the_terminal(tmp_path, cli):
    path = write_report(tmp_path / "r.csv", [
        (1, "1", "close", "", "failed", "400", "400 \x1b[2Jgotcha\x07")])
    result = cli("report", path, env={})
    assert "\x1b" not in result.out and "\\x1b[2Jgotcha\\x07" in result.out


def test_help_shows_examples(cli, capsys):
    with pytest.raises(SystemExit):
        cli("report", "--help")
    out = capsys.readouterr().out
    assert "partoo-bulk report R.csv --failed retry.csv --skipped" in out
    assert "sending it now would undo that change" in out


def test_a_report_with_no_rows_yet_and_one_being_resumed(tmp_path, cli):
    path = write_report(tmp_path / "r.csv", [])
    result = cli("report", path, env={})
    assert result.code == 0 and "0 rows" in result.out and "no rows yet" in result.out
    (tmp_path / "r.csv.partial").write_text(",".join(REPORT_COLUMNS) + "\n")
    resumed = cli("report", path, env={})
    assert "r.csv.partial is beside it: a resumed run is under way" in resumed.err


def test_kinds_of_error_past_the_cap_are_counted_together(monkeypatch):
    from worker.core.outcomes import Outcome
    from worker.report import stats as reportstats

    monkeypatch.setattr(reportstats, "_MAX_GROUPS", 2)
    stats = reportstats.ReportStats()
    for i, word in enumerate(["alpha", "beta", "gamma", "delta", "alpha"]):
        stats.count(Outcome.FAILED, None, f"400 {word}", i + 1, status="400")
    text = stats.describe(top=10)
    assert "  2 rows failed: 400 alpha  [rows 1, 5]" in text
    assert "  2 rows failed: other errors (too many different messages to group them all)" in text


@pytest.mark.parametrize(("one", "other", "same"), [
    ("conversation_id 'abc' is not a conversation id", "conversation_id '-5' is not a "
     "conversation id", True),
    ("no answer within 30 s (gave up after 5 attempts; it may or may not have been applied)",
     "no answer within 30 s (gave up after 3 attempts; it may or may not have been applied)",
     True),
    ("500 Internal Server Error (gave up after 5 attempts; reading it back failed too: 404 "
     "Resource not found)", "500 Internal Server Error (gave up after 5 attempts; reading it "
     "back failed too: 503 Service Unavailable)", False),
    ("in effect, as reading it back shows; no answer to the change said so (last: 500 "
     "Internal Server Error)", "in effect, as reading it back shows; no answer to the change "
     "said so (last: 502 Bad Gateway)", False),
])
def test_errors_group_by_kind_whatever_the_row_values_but_not_across_statuses(one, other,
                                                                               same):
    from worker.report.stats import error_kind

    assert (error_kind(one) == error_kind(other)) is same
    assert "404" in error_kind(one) or "404" not in one
