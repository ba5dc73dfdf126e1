"""`partoo-bulk run` end to end: the real CLI, over loopback HTTP, against the simulator."""

from __future__ import annotations

import random

from helpers import SECRET, read_report, sim_env, write_job
from worker.core.columns import REPORT_COLUMNS
from worker.simulator import ALICE, BOB, CAROL, Faults

HARSH = Faults(error_before=0.10, error_after=0.05, reset_before=0.04, reset_after=0.03,
               html_error=0.03, slow=0.03, slow_s=1.5, seed=11)


def expected_state(job_rows, report):
    """For each conversation whose last row in the file is ok: what that row set."""
    last = {}
    for (cid, status, assignee), line in zip(job_rows, report, strict=True):
        last[cid] = (status, assignee, line["outcome"])
    return {int(cid): (status, assignee) for cid, (status, assignee, outcome) in last.items()
            if outcome == "ok"}


def test_a_run_with_faults_reports_every_row_true_to_the_server(tmp_path, make_sim, cli):
    sim = make_sim(faults=HARSH)
    rng = random.Random(3)
    rows = []
    for _ in range(300):
        cid = str(rng.randrange(1, 60))  # many rows per conversation: order matters
        if rng.random() < 0.5:
            rows.append((cid, rng.choice(["open", "closed"]), ""))
        else:
            rows.append((cid, "", rng.choice([ALICE, BOB, CAROL, "unassigned"])))
    rows[10] = ("abc", "closed", "")
    rows[20] = ("١٢", "closed", "")
    job = write_job(tmp_path / "job.csv", rows)

    result = cli("run", job, "--yes", "--max-attempts", "8", env=sim_env(sim))

    report = read_report(tmp_path / "job.report.csv")
    assert [int(r["row"]) for r in report] == list(range(1, 301))
    assert {r["outcome"] for r in report} <= {"ok", "failed", "invalid"}
    assert [r["outcome"] for r in report].count("invalid") == 2
    sim.stop()
    log = sim.state.log.records
    assert all(rec.conversation_id is None or 1 <= rec.conversation_id < 60 for rec in log)
    for cid, (status, assignee) in expected_state(rows, report).items():
        conv = sim.state.conversations[cid]
        if status:
            if conv.is_expired and status == "open":
                continue
            assert conv.is_solved == (status == "closed"), cid
        else:
            assert conv.assigned_user_id == (None if assignee == "unassigned" else assignee)
    assert result.code == 1  # the two invalid rows alone make it 1
    assert_rows_match_the_server_log(rows, report, log)
    for text in (result.out, result.err, (tmp_path / "job.report.csv").read_text()):
        assert SECRET not in text


def assert_rows_match_the_server_log(rows, report, log):
    """Row by row, the report says what the server did.

    A conversation's rows run one after another in file order, so its requests in the
    server's log, taken in order, split into the rows' `attempts`. A row reported ok
    was written by one of its own requests (or read back holding its change); a row
    reported failed was written by none of them.
    """
    by_conversation = {}
    for rec in log:
        if rec.conversation_id is not None:
            by_conversation.setdefault(rec.conversation_id, []).append(rec)
    taken = {cid: 0 for cid in by_conversation}
    for (cid, _status, _assignee), line in zip(rows, report, strict=True):
        if line["outcome"] == "invalid":
            continue
        cid = int(cid)
        start = taken[cid]
        taken[cid] = start + int(line["attempts"])
        mine = by_conversation[cid][start:taken[cid]]
        assert len(mine) == int(line["attempts"]), line
        written = any(rec.method == "PATCH" and rec.applied for rec in mine)
        if line["outcome"] == "ok":
            assert written or "reading it back" in line["error"], line
        else:
            assert line["outcome"] == "failed" and not written, (line, mine)
    assert taken == {cid: len(recs) for cid, recs in by_conversation.items()}


def test_all_ok_exits_0_with_a_summary(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 21)])
    result = cli("run", job, "--yes", env=sim_env(sim))
    assert result.code == 0
    assert "20 rows: 20 ok, 0 failed, 0 invalid, 0 skipped" in result.out
    assert "report: " + str(tmp_path / "job.report.csv") in result.out
    assert all(sim.state.conversations[i].is_solved for i in range(1, 21))


def test_report_columns_and_extra_columns_carried(tmp_path, make_sim, cli):
    sim = make_sim()
    job = tmp_path / "job.csv"
    job.write_text("conversation_id,status,ticket,owner\n1,closed,T-1,=cmd|' /C calc'!A0\n")
    result = cli("run", job, "--yes", env=sim_env(sim))
    lines = (tmp_path / "job.report.csv").read_text().splitlines()
    assert lines[0] == ",".join((*REPORT_COLUMNS, "ticket", "owner"))
    (row,) = read_report(tmp_path / "job.report.csv")
    assert (row["outcome"], row["http_status"], row["ticket"]) == ("ok", "200", "T-1")
    assert row["owner"].startswith("'=")
    assert row["finished_at"].endswith("+00:00") and result.code == 0


def test_plain_list_of_ids_with_action(tmp_path, make_sim, cli):
    sim = make_sim()
    ids = tmp_path / "ids.txt"
    ids.write_text("5\n6\n7\n")
    result = cli("run", ids, "--assign", ALICE, "--yes", env=sim_env(sim))
    assert result.code == 0
    assert [sim.state.conversations[i].assigned_user_id for i in (5, 6, 7)] == [ALICE] * 3
    assert [r["action"] for r in read_report(tmp_path / "ids.report.csv")] == ["assign"] * 3


def test_an_existing_report_is_never_overwritten_silently(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    (tmp_path / "job.report.csv").write_text("precious\n")
    result = cli("run", job, "--yes", env=sim_env(sim))
    assert result.code == 2 and "already there" in result.err and "--overwrite" in result.err
    assert (tmp_path / "job.report.csv").read_text() == "precious\n"
    assert sim.state.log.stats()["requests"] == 0
    assert cli("run", job, "--yes", "--overwrite", env=sim_env(sim)).code == 0


def test_without_yes_and_without_a_terminal_nothing_is_sent(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, env=sim_env(sim))
    assert result.code == 2 and "--yes" in result.err
    assert sim.state.log.stats()["requests"] == 0


def test_a_bad_key_aborts_with_exit_3(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 51)])
    result = cli("run", job, "--yes", "--concurrency", "2",
                 env=sim_env(sim, PARTOO_API_KEY="wrong-key-123"))
    assert result.code == 3
    assert "check PARTOO_API_KEY" in result.err
    report = read_report(tmp_path / "job.report.csv")
    assert len(report) == 50 and report[-1]["outcome"] == "skipped"
    assert sim.state.log.stats()["requests"] <= 3
    assert "wrong-key-123" not in result.out + result.err


def test_settings_errors_exit_2_before_sending(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    no_key = cli("run", job, "--yes", env={})
    assert no_key.code == 2 and "PARTOO_API_KEY is not set" in no_key.err
    http = cli("run", job, "--yes", env={"PARTOO_API_KEY": SECRET,
                                         "PARTOO_BASE_URL": "http://api.partoo.co/v2"})
    assert http.code == 2 and "plain http is only allowed to a loopback" in http.err
    bad_rate = cli("run", job, "--yes", "--rate-per-minute", "0", env={"PARTOO_API_KEY": "k"})
    assert bad_rate.code == 2 and "rate_per_minute" in bad_rate.err
    for r in (no_key, http, bad_rate):
        assert "Traceback" not in r.err and SECRET not in r.err


def test_a_missing_job_file_exits_2(tmp_path, cli):
    result = cli("run", tmp_path / "nope.csv", "--yes", env={"PARTOO_API_KEY": SECRET})
    assert result.code == 2 and "no such job file" in result.err


def test_config_file_precedence(tmp_path, make_sim, cli):
    sim = make_sim()
    config = tmp_path / "c.toml"
    config.write_text(f'base_url = "{sim.base_url}"\nrate_per_minute = 1\n')
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    # rate 1/min from the file would take a minute; the environment's 60000 wins.
    result = cli("run", job, "--yes", "--config", config,
                 env={"PARTOO_API_KEY": SECRET, "PARTOO_RATE_PER_MINUTE": "60000"})
    assert result.code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('rate_per_minit = 5\n')
    refused = cli("run", job, "--yes", "--config", bad, env={"PARTOO_API_KEY": SECRET})
    assert refused.code == 2 and "'rate_per_minit'" in refused.err and "unknown" in refused.err


def test_circuit_breaker_stops_a_run_against_a_dead_api(tmp_path, make_sim, cli):
    sim = make_sim(faults=Faults(force_status=503))
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 201)])
    result = cli("run", job, "--yes", "--max-attempts", "2", env=sim_env(sim))
    assert result.code == 3
    assert "circuit breaker" in result.err and "--resume" in result.err
    report = read_report(tmp_path / "job.report.csv")
    assert len(report) == 200
    failed = [r for r in report if r["outcome"] == "failed"]
    assert 25 <= len(failed) <= 25 + 8  # trips at half the window of 50, plus in flight
    assert report[-1]["outcome"] == "skipped"
    assert "circuit breaker" in report[-1]["error"]
    # A 503 may come after the change is made: each row's 2 PATCHes are followed by one
    # GET reading it back. Conversations found already closed are ok, and say how we know.
    assert all("not applied: reading it back shows open" in r["error"] for r in failed)
    ok = [r for r in report if r["outcome"] == "ok"]
    assert all("reading it back" in r["error"] for r in ok)
    assert all(sim.state.conversations[int(r["conversation_id"])].is_solved for r in ok)
    assert sim.state.log.stats()["applied"] == 0
    assert all(r["attempts"] == "3" for r in failed + ok)
    assert sim.state.log.stats()["requests"] == sum(int(r["attempts"]) for r in report)


def test_rows_whose_answers_were_lost_say_what_the_server_did(tmp_path, make_sim, cli):
    """Every answer to rows 1-3 is an error; the report still says what happened."""
    sim = make_sim()
    assert not any(sim.state.conversations[i].is_solved for i in (2, 3, 4))
    sim.script(2, ["error_after", "500", "500"])  # made at once, then every answer lost
    sim.script(3, ["reset_after", "reset_after", "reset_after"])
    sim.script(4, ["500", "500", "500"])  # never made
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in (2, 3, 4, 6)])
    result = cli("run", job, "--yes", "--quiet", "--max-attempts", "3", env=sim_env(sim))
    report = read_report(tmp_path / "job.report.csv")
    assert [(r["outcome"], r["http_status"], r["attempts"]) for r in report] == [
        ("ok", "200", "4"), ("ok", "200", "4"), ("failed", "500", "4"), ("ok", "200", "1")]
    assert "in effect, as reading it back shows" in report[0]["error"]
    assert "not applied: reading it back shows open" in report[2]["error"]
    assert report[3]["error"] == ""
    assert [sim.state.conversations[i].is_solved for i in (2, 3, 4, 6)] == \
        [True, True, False, True]
    assert result.code == 1
    assert "4 rows: 3 ok, 1 failed" in sim_summary(result.out)
    sim.stop()
    rows = [(str(i), "closed", "") for i in (2, 3, 4, 6)]
    assert_rows_match_the_server_log(rows, report, sim.state.log.records)


def test_a_lost_answer_whose_read_back_fails_too_stays_uncertain(tmp_path, make_sim, cli):
    sim = make_sim(faults=Faults(error_before=1.0, on_get=True))  # every GET fails
    sim.script(2, ["error_after", "500"])
    job = write_job(tmp_path / "job.csv", [("2", "closed", "")])
    result = cli("run", job, "--yes", "--quiet", "--max-attempts", "2", env=sim_env(sim))
    (row,) = read_report(tmp_path / "job.report.csv")
    assert (row["outcome"], row["attempts"]) == ("failed", "4")  # 2 PATCHes, 2 reads
    assert "may or may not have been applied); reading it back failed too" in row["error"]
    assert sim.state.conversations[2].is_solved  # it was: the report cannot know
    assert result.code == 1


def sim_summary(out: str) -> str:
    return next(line for line in out.splitlines() if " rows" in line)


def test_a_run_in_process_gives_the_garbage_collector_back_as_it_found_it(tmp_path,
                                                                         make_sim, cli):
    import gc

    before = gc.get_threshold()
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", "")])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
