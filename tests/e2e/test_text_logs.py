"""`-v` text logs (issue 22 §6, issue 24 item 18): the report's clock (UTC, ISO 8601 with
its zone), and the server's control characters escaped as `report` escapes them."""

from __future__ import annotations

import re

from helpers import read_report, run_refused_with, sim_env, write_job

_REQUEST_LINE = re.compile(r"^(\S+) (INFO|WARNING) (PATCH|GET) /conversations/")
HOSTILE = "bad\x1b[2J\x1b]0;owned\x07\r\nWARNING forged line\x9b"


def test_request_lines_carry_the_reports_clock(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 4)])
    result = cli("run", job, "--yes", "-v", env=sim_env(sim))
    assert result.code == 0, result.err
    stamps = [m.group(1) for m in map(_REQUEST_LINE.match, result.err.splitlines()) if m]
    assert len(stamps) == 3
    finished = {row["finished_at"] for row in read_report(tmp_path / "job.report.csv")}
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"
    assert all(re.fullmatch(pattern, s) for s in stamps)
    assert all(re.fullmatch(pattern, s) for s in finished)  # one clock, one spelling


def test_a_servers_control_characters_never_reach_the_terminal(tmp_path, cli):
    result = run_refused_with(tmp_path, cli, HOSTILE)
    assert result.code == 1, result.err
    lines = [line for line in result.err.splitlines() if "/conversations/1" in line]
    assert lines and all(_REQUEST_LINE.match(line) for line in lines)
    assert "\\x1b[2J" in lines[0] and "\\x07" in lines[0] and "\\x0d\\x0a" in lines[0]
    assert not any(line.startswith("WARNING forged") for line in result.err.splitlines())
    for char in "\x1b\x07\r\x9b":
        assert char not in result.err
