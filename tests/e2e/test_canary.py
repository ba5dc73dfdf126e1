"""`run --canary N`: the first N rows, read back as `verify` reads, then the rest only if
they hold (--yes) or the operator says so; one report, and `--resume` goes on."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

from helpers import ask_on_a_terminal, read_report, sim_env, write_job


def closing_job(folder, n=12):
    return write_job(folder / "job.csv", [(str(i), "closed", "") for i in range(1, n + 1)])


def patches(sim) -> list[int]:
    return [r.conversation_id for r in sim.state.log.records if r.method == "PATCH"]


def test_a_healthy_canary_goes_on_to_the_rest_in_one_report(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 11)]
                    + [("zz", "closed", "")])
    summary = tmp_path / "s.json"
    result = cli("run", job, "--yes", "--canary", "3", "--summary-json", summary,
                 env=sim_env(sim))
    assert result.code == 1, result.err  # the invalid row
    assert "canary: 3 rows sent, read back: 3 hold, 0 do not" in result.err
    gets = [r.conversation_id for r in sim.state.log.records if r.method == "GET"]
    assert sorted(gets) == [1, 2, 3]  # read back once each, before any other PATCH
    log = [(r.method, r.conversation_id) for r in sim.state.log.records]
    assert log.index(("GET", 3)) < log.index(("PATCH", 4))
    assert sorted(patches(sim)) == list(range(1, 11))  # each sent once
    rows = read_report(tmp_path / "job.report.csv")
    assert [r["outcome"] for r in rows] == ["ok"] * 10 + ["invalid"]
    lines = result.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("11 rows: 10 ok, 0 failed, 1 invalid")
    assert "kept" not in lines[0]  # the canary's rows are this run's own
    data = json.loads(summary.read_text())
    assert data["requests"] == 10 and data["kept_from_earlier_report"] == 0
    assert data["outcomes"] == {"ok": 10, "failed": 0, "invalid": 1, "skipped": 0,
                                   "changed": 0}


def test_a_canary_that_does_not_hold_stops_exit_1_and_resume_sends_the_rest(tmp_path,
                                                                            make_sim, cli):
    sim = make_sim()
    sim.script(2, ["lose"])  # 200 success, and the conversation stays open
    job = closing_job(tmp_path)
    summary = tmp_path / "s.json"
    result = cli("run", job, "--yes", "--canary", "4", "--summary-json", summary,
                 env=sim_env(sim))
    assert result.code == 1
    assert "canary: 4 rows sent, read back: 3 hold, 1 do not" in result.err
    assert ("row 2, conversation 2: reads back differently: row 2: status: expected closed, "
            "found open") in result.err
    assert "the other 8 rows were not sent" in result.err
    assert sorted(patches(sim)) == [1, 2, 3, 4]
    rows = read_report(tmp_path / "job.report.csv")
    assert [r["outcome"] for r in rows] == ["ok"] * 4 + ["skipped"] * 8
    assert "held back by --canary" in rows[4]["error"]
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 1 and data["stop_kind"] == "canary"

    resume = cli("run", job, "--yes", "--resume", env=sim_env(sim))
    assert resume.code == 0, resume.err
    assert sorted(patches(sim)) == list(range(1, 13))  # the canary's rows not sent again
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == ["ok"] * 12


def test_a_canary_row_the_api_refuses_does_not_hold(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("999999", "closed", ""),
                                           ("3", "closed", ""), ("4", "closed", "")])
    result = cli("run", job, "--yes", "--canary", "2", env=sim_env(sim))
    assert result.code == 1
    assert "row 2, conversation 999999: failed: 404" in result.err
    assert sorted(patches(sim)) == [1, 999999]


def test_a_conversation_changed_by_someone_else_meanwhile_does_not_hold(tmp_path, make_sim,
                                                                        cli, monkeypatch):
    """Another client re-opens conversation 1 between our PATCH and our read."""
    from worker.run import canary

    sim = make_sim()
    real = canary.verify

    def reopened_first(expected, settings, **kw):
        sim.state.conversations[1].is_solved = False
        return real(expected, settings, **kw)

    monkeypatch.setattr(canary, "verify", reopened_first)
    result = cli("run", closing_job(tmp_path), "--yes", "--canary", "2", env=sim_env(sim))
    assert result.code == 1 and "row 1, conversation 1: reads back differently" in result.err


def test_a_canary_as_big_as_the_job_only_checks(tmp_path, make_sim, cli):
    sim = make_sim()
    result = cli("run", closing_job(tmp_path, 3), "--yes", "--canary", "5", env=sim_env(sim))
    assert result.code == 0, result.err
    assert "canary: 3 rows sent, read back: 3 hold" in result.err
    assert result.out.startswith("3 rows: 3 ok")


def test_on_a_terminal_the_question_is_asked_there_while_stdout_goes_to_a_file(tmp_path,
                                                                               make_sim):
    sim = make_sim()
    job = closing_job(tmp_path, 3)
    out = tmp_path / "out.txt"
    code, terminal = ask_on_a_terminal(["run", str(job), "--quiet"], sim_env(sim), ["y"], out)
    assert code == 0, terminal
    host = sim.base_url.split("/")[2]
    assert f"Send 3 requests to {host}? [y/N]" in terminal
    assert "3 rows: 3 close, 0 invalid" in terminal  # the plan, shown before the question
    text = out.read_text()
    assert text.startswith("3 rows: 3 ok") and "[y/N]" not in text and "Send" not in text


def test_an_interactive_canary_asks_twice_and_a_no_leaves_the_rest_to_resume(tmp_path,
                                                                             make_sim):
    sim = make_sim()
    job = closing_job(tmp_path, 6)
    out = tmp_path / "out.txt"
    code, terminal = ask_on_a_terminal(["run", str(job), "--quiet", "--canary", "2"],
                                       sim_env(sim), ["y", "n"], out)
    assert code == 1, terminal
    assert "Send the first 2 rows to" in terminal and "as a canary" in terminal
    assert "canary: 2 rows sent, read back: 2 hold, 0 do not" in terminal
    assert "Send the other 4 rows to" in terminal
    assert "not confirmed" in terminal
    assert sorted(patches(sim)) == [1, 2]
    assert "[y/N]" not in out.read_text()
    code, terminal = ask_on_a_terminal(["run", str(job), "--quiet", "--canary", "2",
                                        "--resume"], sim_env(sim), ["y", "y"], out)
    assert code == 0, terminal
    assert sorted(patches(sim)) == [1, 2, 3, 4, 5, 6]


def test_without_a_terminal_or_yes_nothing_is_sent(tmp_path, make_sim):
    sim = make_sim()
    job = closing_job(tmp_path, 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    env.update(sim_env(sim))
    proc = subprocess.run([sys.executable, "-m", "worker", "run", str(job), "--canary", "1"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          start_new_session=True, timeout=60)
    assert proc.returncode == 2 and "no terminal to ask on" in proc.stderr
    assert patches(sim) == []


def test_the_parts_of_a_canary_run_share_one_pacing(tmp_path, make_sim, cli):
    # 120/min: one request every 0.5 s, whichever part of the run sends it (the PATCHes
    # of the canary, its read-back GETs, the rest's PATCHes). A part that starts a meter
    # of its own sends its first request at once, on the heels of the part before.
    sim = make_sim()
    job = closing_job(tmp_path, n=5)
    result = cli("run", job, "--yes", "--canary", "2",
                 env=sim_env(sim, PARTOO_RATE_PER_MINUTE="120", PARTOO_BURST="1"))
    assert result.code == 0, result.err
    at = [r.at for r in sim.state.log.records if r.method in ("GET", "PATCH")]
    assert len(at) == 7  # 2 PATCHes, 2 GETs, 3 PATCHes
    gaps = [later - earlier for earlier, later in itertools.pairwise(at)]
    assert min(gaps) > 0.35, gaps  # not 0.01 s: no part starts a meter of its own
