"""`--json` on plan, report, verify and select: one JSON document on stdout, with a
schema_version, stable keys and absolute paths; `-` for stdin and stdout."""

from __future__ import annotations

import csv
import io
import json

import pytest

from helpers import read_report, sim_env, write_job
from worker import __version__


def document(result, command: str) -> dict:
    data = json.loads(result.out)  # the whole of stdout is one document
    assert data["schema_version"] == 1 and data["tool_version"] == __version__
    assert data["command"] == command and data["exit_code"] == result.code
    return data


def test_plan_json(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "", "u1"), ("abc", "open", ""),
                                     ("1", "open", "")])
    data = document(cli("plan", "job.csv", "--json", "--rate-per-minute", "60"), "plan")
    assert data["job"] == str(tmp_path / "job.csv") and data["exit_code"] == 1
    assert data["rows"] == 4 and data["invalid"] == 1 and not data["clean"]
    assert data["actions"] == {"close": 1, "open": 1, "assign": 1, "unassign": 0}
    assert data["invalid_examples"][0]["row"] == 3
    assert "conversation_id 'abc'" in data["invalid_examples"][0]["message"]
    assert data["repeated_examples"] == [{"conversation_id": 1, "rows": [
        {"row": 1, "action": "close", "value": ""}, {"row": 4, "action": "open", "value": ""}]}]
    assert data["requests"] == 3 and data["estimated_duration_s"] == 3.0
    assert data["run_command"] == "partoo-bulk run job.csv --rate-per-minute 60"


def test_plan_reads_a_job_from_stdin(tmp_path, cli, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"7\n8\n9\n")))
    data = document(cli("plan", "-", "--action", "close", "--json"), "plan")
    assert data["job"] == "-" and data["rows"] == 3 and data["clean"]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"7\n8\n")))
    text = cli("plan", "-")
    assert text.code == 2
    assert "stdin (-), line 1: no 'conversation_id' column" in text.err
    assert "partoo-bulk-" not in text.err  # our private copy is never named


def test_an_error_under_json_is_still_one_document(tmp_path, cli):
    result = cli("plan", tmp_path / "missing.csv", "--json")
    data = document(result, "plan")
    assert result.code == 2 and "no such job file" in data["error"]


def finished_report(tmp_path, make_sim, cli):
    sim = make_sim()
    sim.script(2, ["404"])
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", ""),
                                           ("x", "closed", "")])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 1
    return sim, tmp_path / "job.report.csv"


def test_report_json(tmp_path, make_sim, cli):
    _, report = finished_report(tmp_path, make_sim, cli)
    data = document(cli("report", report, "--json"), "report")
    assert data["report"] == str(report) and data["job"] == str(tmp_path / "job.csv")
    assert data["outcomes"] == {"ok": 1, "failed": 1, "invalid": 1, "skipped": 0,
                                   "changed": 0}
    assert data["http_statuses"] == {"none": 1, "200": 1, "404": 1}
    assert sorted((e["outcome"], e["rows"], e["first_rows"]) for e in data["errors"]) == [
        ("failed", 1, [2]), ("invalid", 1, [3])]
    assert data["error_kinds"] == 2
    kinds = [s["kind"] for s in data["next_steps"]]
    assert kinds == ["retry_refused", "fix_invalid"]
    assert data["next_steps"][0]["commands"][0].startswith("partoo-bulk report ")
    assert data["failed_job"] is None and not data["last_line_torn"]


def test_report_failed_to_stdout_and_with_json_to_a_file(tmp_path, make_sim, cli):
    _, report = finished_report(tmp_path, make_sim, cli)
    piped = cli("report", report, "--failed", "-")
    assert piped.code == 0
    assert list(csv.reader(io.StringIO(piped.out))) == [
        ["conversation_id", "status", "assigned_user_id"], ["2", "closed", ""]]
    assert "1 rows:" not in piped.out and "wrote 1 failed row to -" in piped.err
    data = document(cli("report", report, "--json", "--failed", tmp_path / "retry.csv"),
                    "report")
    assert data["failed_job"] == {"path": str(tmp_path / "retry.csv"), "rows": 1,
                                  "skipped_included": False, "left_out_rows": []}
    both = cli("report", report, "--json", "--failed", "-")
    assert both.code == 2 and "both write to stdout" in both.err


def test_verify_json(tmp_path, make_sim, cli):
    sim, report = finished_report(tmp_path, make_sim, cli)
    assert document(cli("verify", report, "--json", env=sim_env(sim)), "verify")["differ"] == 0
    sim.state.conversations[1].is_solved = False
    data = document(cli("verify", report, "--json", env=sim_env(sim)), "verify")
    assert data["exit_code"] == 1 and data["report"] == str(report)
    assert data["changed_conversations"] == 1 and data["checked"] == 1
    assert data["differences"] == [{"conversation_id": 1, "row": 1, "field": "status",
                                    "expected": "closed", "found": "open"}]
    assert data["unreadable"] == [] and data["aborted"] is None


def test_select_json_and_out_to_stdout(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=30)
    args = ["select", "--stale-days", "1", "--as-of", "2100-01-01", "--action", "close"]
    data = document(cli(*args, "--out", tmp_path / "stale.csv", "--json", env=sim_env(sim)),
                    "select")
    written = read_report(tmp_path / "stale.csv")
    assert data["out"] == str(tmp_path / "stale.csv") and data["selected"] == len(written)
    assert data["listed"] == 30 and data["requests"] >= 1
    assert data["filters"][-1]["filter"] == "not already solved"
    assert sum(f["dropped"] for f in data["filters"]) + data["selected"] == 30
    piped = cli(*args, "--out", "-", env=sim_env(sim))
    assert piped.code == 0 and f"selected {len(written)} conversations" in piped.err
    rows = list(csv.DictReader(io.StringIO(piped.out)))
    assert [r["conversation_id"] for r in rows] == [r["conversation_id"] for r in written]


@pytest.mark.parametrize("extra", [["--out", "-", "--json"], ["--out", "x.csv",
                                                              "--undo-out", "-"]])
def test_select_refuses_two_things_on_stdout(tmp_path, cli, extra):
    result = cli("select", "--action", "close", *extra, env={"PARTOO_API_KEY": "k"})
    assert result.code == 2 and "stdout" in result.err
