"""`partoo-bulk plan JOB`, driven as a user would: what it prints, its exit code, and
that it sends nothing."""

from __future__ import annotations

from helpers import SECRET, sim_env, write_job
from worker.jobfile.plan import make_plan
from worker.jobfile.reader import open_job
from worker.simulator import ALICE, BOB


def test_a_clean_job_exits_0_with_rows_per_action_and_the_duration(tmp_path, cli):
    rows = [(str(i), "closed", "") for i in range(1, 601)]
    rows += [("700", "open", ""), ("701", "", ALICE), ("702", "", "unassigned")]
    job = write_job(tmp_path / "job.csv", rows)

    result = cli("plan", job, env={})  # no API key: plan never needs one

    assert result.code == 0, result.err
    assert "603 rows: 600 close, 1 open, 1 assign, 1 unassign, 0 invalid" in result.out
    assert "estimated duration: about 2 min (603 requests at 300/min" in result.out
    assert "every row is valid" in result.out
    assert f"partoo-bulk run {job}" in result.out
    assert "more than one row" not in result.out and result.err == ""


def test_invalid_rows_show_row_column_value_and_fix_and_exit_1(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [
        ("1", "closed", ""),
        ("abc", "closed", ""),
        ("3", "closd", ""),
        ("4", "closed", ALICE),
        ("5", "", "bob smith"),
        ("6", "", ""),
    ])

    result = cli("plan", job, env={})

    assert result.code == 1
    out = result.out
    assert "6 rows: 1 close, 5 invalid" in out
    assert "5 invalid rows, never sent" in out
    assert "row 2: conversation_id 'abc' is not a conversation id: use a positive whole " \
           "number" in out
    assert "row 3: status 'closd' is not valid: use 'open' or 'closed'" in out
    assert "row 4: both status and assigned_user_id are filled" in out
    assert "row 5: assigned_user_id 'bob smith' holds spaces" in out
    assert "row 6: no action: fill status" in out
    assert "not clean: fix the invalid rows" in out
    assert "estimated duration: about 1 s (1 request at 300/min" in out


def test_only_the_first_invalid_rows_are_listed_then_a_count(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [(f"x{i}", "closed", "") for i in range(12)])
    result = cli("plan", job, env={})
    assert result.code == 1
    assert result.out.count("is not a conversation id") == 5
    assert "... and 7 more invalid rows (a run lists every one in its report)" in result.out


def test_a_row_level_problem_is_labelled_as_the_whole_row(tmp_path, cli):
    job = tmp_path / "job.csv"
    job.write_text("conversation_id,status,note\n1,closed,Bob, then Alice\n2,closed,ok\n")
    result = cli("plan", job, env={})
    assert result.code == 1
    assert "row 1: whole row: this row has 4 cells but the header has 3 columns" in result.out


def test_conversations_touched_more_than_once_with_examples_and_the_rule(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [
        ("21", "", ALICE),
        ("22", "closed", ""),
        ("21", "", "unassigned"),
        ("22", "open", ""),
        ("23", "closed", ""),
        ("21", "", BOB),
    ])
    result = cli("plan", job, env={})
    assert result.code == 0
    assert "2 conversations touched by more than one row: file order decides, the last " \
           "row wins" in result.out
    assert (f"conversation 21: row 1 assign {ALICE}, row 3 unassign, row 6 assign {BOB}"
            in result.out)
    assert "conversation 22: row 2 close, row 4 open" in result.out


def test_the_repeated_count_is_exact_beyond_the_examples(tmp_path):
    rows = [(str(i % 40 + 1), "closed", "") for i in range(100)]  # ids 1..40, 2 or 3 rows
    plan = make_plan(open_job(write_job(tmp_path / "job.csv", rows)))
    assert (plan.rows, plan.requests, plan.repeated) == (100, 100, 40)
    assert list(plan.repeated_examples) == [1, 2, 3]
    assert "... and 37 more" in plan.describe(300)


def test_rate_comes_from_the_flag_then_the_environment_then_the_config_file(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 121)])
    config = tmp_path / "c.toml"
    config.write_text("rate_per_minute = 10\n")

    def estimate(*flags, env):
        result = cli("plan", job, *flags, env=env)
        assert result.code == 0, result.err
        return next(line for line in result.out.splitlines() if "estimated" in line)

    assert "about 24 s (120 requests at 300/min" in estimate(env={})
    assert "about 12 min (120 requests at 10/min" in estimate("--config", config, env={})
    env = {"PARTOO_RATE_PER_MINUTE": "60"}
    assert "at 60/min" in estimate("--config", config, env=env)
    assert "at 1/min" in estimate("--config", config, "--rate-per-minute", "1", env=env)
    assert "about 2.0 h" in estimate("--rate-per-minute", "1", env={})


def test_a_long_job_is_estimated_in_days(tmp_path, cli):
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{i}\n" for i in range(1, 100_001)))
    result = cli("plan", ids, "--action", "close", env={})
    assert result.code == 0
    assert "100000 rows: 100000 close" in result.out
    assert "about 5.6 h" in result.out
    days = cli("plan", ids, "--action", "close", "--rate-per-minute", "30", env={})
    assert "about 2.3 days" in days.out


def test_a_plain_list_takes_its_action_from_the_flags(tmp_path, cli):
    ids = tmp_path / "ids.txt"
    ids.write_text("5\n6\n7\n")
    result = cli("plan", ids, "--assign", ALICE, env={})
    assert result.code == 0
    assert "3 rows: 3 assign, 0 invalid" in result.out
    assert f"partoo-bulk run {ids} --assign {ALICE}" in result.out
    without = cli("plan", ids, env={})
    assert without.code == 2 and "--action close|open|unassign" in without.err


def test_a_job_with_a_header_only_has_nothing_to_send(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [])
    result = cli("plan", job, env={})
    assert result.code == 0 and "nothing to send" in result.out


def test_an_unreadable_job_exits_2_with_the_fix(tmp_path, cli):
    missing = cli("plan", tmp_path / "nope.csv", env={})
    assert missing.code == 2 and "no such job file: check the path" in missing.err
    latin1 = tmp_path / "excel.csv"
    latin1.write_bytes("conversation_id,status,note\n1,closed,déjà vu\n".encode("latin-1"))
    result = cli("plan", latin1, env={})
    assert result.code == 2 and "not UTF-8" in result.err and "iconv" in result.err
    typo = tmp_path / "typo.csv"
    typo.write_text("conversation id,status\n1,closed\n")
    result = cli("plan", typo, env={})
    assert result.code == 2 and "If column 'conversation id' is meant to be" in result.err
    for r in (missing, result):
        assert "Traceback" not in r.err and r.out == ""


def test_bad_settings_exit_2(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("plan", job, "--rate-per-minute", "0", env={})
    assert result.code == 2 and "rate_per_minute" in result.err


def test_plan_sends_nothing_even_with_a_key_and_a_server(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 30)])
    result = cli("plan", job, env=sim_env(sim))
    assert result.code == 0
    assert sim.state.log.stats()["requests"] == 0
    assert not (tmp_path / "job.report.csv").exists()
    assert SECRET not in result.out + result.err


def test_help_shows_examples_and_exit_codes(cli, capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        cli("plan", "--help")
    out = capsys.readouterr().out
    assert exc.value.code == 0
    assert "partoo-bulk plan ids.txt --action close" in out
    assert "0 every row is valid, 1 some rows are invalid, 2 the file cannot be read" in out


def test_an_example_conversation_lists_a_few_rows_only(tmp_path):
    rows = [("9", "closed" if i % 2 else "open", "") for i in range(1000)]
    plan = make_plan(open_job(write_job(tmp_path / "job.csv", rows)))
    assert plan.repeated == 1 and len(plan.repeated_examples[9]) == 5
    assert "conversation 9: row 1 open, row 2 close, row 3 open, row 4 close, …" in \
        plan.describe(300)


def test_plan_counts_the_reads_of_undo_out(tmp_path, cli):
    job = tmp_path / "job.csv"
    job.write_text("conversation_id,status\n1,closed\n2,closed\n1,open\n")
    result = cli("plan", job, "--undo-out", "--rate-per-minute", "60")
    assert result.code == 0
    assert "5 requests, 2 of them reads for --undo-out at 60/min" in result.out
