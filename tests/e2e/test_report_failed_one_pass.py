"""`partoo-bulk report R --failed OUT` reads the report once: the picked rows wait in
memory, or past a number of them in a temporary file, and the job written is the same."""

from __future__ import annotations

import csv

import pytest

import worker.report.failedjob as failedjob
import worker.report.lines as lines_module
from worker.core.columns import REPORT_COLUMNS
from worker.simulator import ALICE, INACTIVE_USER

ROWS = [
    (1, "30", "close", "", "ok", "200", ""),
    (2, "21", "assign", INACTIVE_USER, "failed", "400", "400 User is not active."),
    (3, "21", "close", "", "failed", "503", "503 gave up"),
    (4, "21", "unassign", "", "ok", "200", ""),  # overrides row 2, not row 3
    (5, "22", "assign", INACTIVE_USER, "failed", "400", "400 User is not active."),
    (6, "22", "assign", ALICE, "failed", "400", "400 other"),
    (7, "23", "close", "", "ok", "200", ""),
    (8, "23", "open", "", "failed", "400", "400 expired"),  # after the ok: kept
    (9, "24", "open", "", "skipped", "", "not attempted: run interrupted (SIGINT)"),
    (10, "22", "assign", ALICE, "ok", "200", ""),  # overrides rows 5 and 6
    (11, "25", "close", "", "failed", "503", "503 gave up"),
]


def write_report(path, rows):
    """A report as `run` writes it: (row, id, action, value, outcome, status, error)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(REPORT_COLUMNS)
        for row, cid, action, value, outcome, status, error in rows:
            fault = "" if outcome != "failed" else "refused" if status == "400" else "outage"
            writer.writerow([row, cid, action, value, outcome, status, 1, error, 5,
                             "2024-05-01T00:00:00.000+00:00", fault])
    return path


EXPECTED = ["conversation_id,status,assigned_user_id", "21,closed,", "23,open,", "25,closed,"]


@pytest.mark.parametrize(("in_memory", "chunk"), [(10_000, 200), (1, 200), (2, 3),
                                                  (1, 1)])
def test_the_retry_job_is_the_same_in_memory_or_from_disk(tmp_path, monkeypatch, cli,
                                                          in_memory, chunk):
    monkeypatch.setattr(failedjob, "_IN_MEMORY", in_memory)
    monkeypatch.setattr(lines_module, "_CHUNK", chunk)
    report = write_report(tmp_path / "r.csv", ROWS)
    out = tmp_path / "retry.csv"
    result = cli("report", report, "--failed", out, env={})
    assert result.code == 3, result.err  # a skipped row: the run did not finish
    assert out.read_text().splitlines() == EXPECTED
    assert "wrote 3 failed rows" in result.out
    assert "left out 3 rows that a later row of the same conversation overrode with " \
           "success (sending them now would undo it): rows 2, 5, 6" in result.out
    both = cli("report", report, "--failed", out, "--skipped", "--overwrite", env={})
    assert out.read_text().splitlines() == [*EXPECTED[:3], "24,open,", EXPECTED[3]]
    assert "wrote 4 failed or skipped rows" in both.out


@pytest.mark.parametrize("chunk", [1, 2, 200])
def test_a_report_out_of_row_order_is_refused_wherever_the_row_is(tmp_path, monkeypatch,
                                                                   cli, chunk):
    monkeypatch.setattr(lines_module, "_CHUNK", chunk)
    rows = [(1, "1", "close", "", "ok", "200", ""), (3, "3", "close", "", "ok", "200", ""),
            (2, "2", "close", "", "failed", "503", "503 gave up"),
            (4, "4", "close", "", "ok", "200", "")]
    report = write_report(tmp_path / "r.csv", rows)
    result = cli("report", report, "--failed", tmp_path / "retry.csv", env={})
    assert result.code == 2
    assert "row 2 comes after row 3: the report is not in row order" in result.err
    assert not (tmp_path / "retry.csv").exists()
