"""A report is written in one dialect, the BOM once at the top, and read back in it by
every reader (`lines`, `reader`, `resume`), whatever it is; a resumed report killed
while its R.partial was written is brought together in that same dialect."""

from __future__ import annotations

import pytest

from worker.core.columns import REPORT_COLUMNS
from worker.core.outcomes import Outcome, Result
from worker.files.csvdialect import COMMA, EXCEL_FR, CsvDialect
from worker.files.runfiles import RunFiles
from worker.report import resume
from worker.report.lines import open_lines
from worker.report.reader import open_report
from worker.report.writer import ReportWriter

BOM = "\ufeff".encode()
DIALECTS = [COMMA, EXCEL_FR, CsvDialect(";", False), CsvDialect(",", True)]
WIDTH = len(REPORT_COLUMNS) + 1


def result(row: int, note: str = "") -> Result:
    return Result(row=row, conversation_id=str(row), action="close", value="",
                  outcome=Outcome.OK, http_status=200, attempts=1, cells=[note])


def write(path, dialect, rows) -> None:
    with ReportWriter(path, ("note",), dialect=dialect) as writer:
        for row in rows:
            writer.write(row)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_report_in_any_dialect_reads_back_as_it_was_written(tmp_path, dialect):
    path = tmp_path / "r.csv"
    notes = ["café; crème", 'a, "b"', "deux\nlignes", ""]
    write(path, dialect, [result(i + 1, n) for i, n in enumerate(notes)])

    data = path.read_bytes()
    assert data.startswith(BOM) is dialect.bom and data.count(BOM) <= 1
    assert data.removeprefix(BOM).startswith(f"row{dialect.delimiter}".encode())
    report = open_report(path)
    assert report.dialect == dialect and report.extra_columns == ("note",)
    rows = list(report.rows())
    assert [r.extras for r in rows] == [[n] for n in notes]
    assert [r.outcome for r in rows] == [Outcome.OK] * 4 and not report.torn
    assert [line[-1] for line in resume.records(path, WIDTH)] == notes


def test_a_torn_last_line_is_left_out_in_either_dialect(tmp_path):
    path = tmp_path / "r.csv"
    write(path, EXCEL_FR, [result(1, "x"), result(2, "y")])
    path.write_bytes(path.read_bytes()[:-7])
    lines = open_lines(path)
    assert [c[0] for c in lines.all()] == ["1"] and lines.torn
    assert [c[0] for c in lines.prefix()] == ["1"]


def test_a_resumed_report_killed_mid_write_is_brought_together_in_its_own_dialect(
        tmp_path):
    report = tmp_path / "r.csv"
    write(report, EXCEL_FR, [result(i, f"{i}; old") for i in range(1, 6)])
    # The resumed run had rewritten rows 1..3 into R.partial, in R's dialect, when killed.
    write(RunFiles(report).partial, EXCEL_FR, [result(i, f"{i}; new") for i in range(1, 4)])

    resume.consolidate(report, WIDTH)

    assert not RunFiles(report).partial.exists()
    data = report.read_bytes()
    assert data.startswith(BOM) and data.count(BOM) == 1
    assert resume.dialect_of(report) == EXCEL_FR
    assert [r.extras[0] for r in open_report(report).rows()] == \
        ["1; new", "2; new", "3; new", "4; old", "5; old"]


def test_a_report_that_is_not_there_yet_has_no_dialect(tmp_path):
    path = tmp_path / "r.csv"
    assert resume.dialect_of(path) is None
    path.write_bytes(b"")
    assert resume.dialect_of(path) is None


def test_an_empty_partial_a_kill_left_before_its_header_leaves_the_report_as_it_was(
        tmp_path):
    report = tmp_path / "r.csv"
    write(report, EXCEL_FR, [result(1, "kept")])
    before = report.read_bytes()
    RunFiles(report).partial.write_bytes(b"")

    resume.consolidate(report, WIDTH)

    assert report.read_bytes() == before and not RunFiles(report).partial.exists()
