"""A report read a list of lines at a time: the same lines, the same refusal of a damaged
line (and its line number), the same torn last line, whatever the size of the lists."""

from __future__ import annotations

import csv

import pytest

import worker.report.lines as lines_module
from worker.core.columns import REPORT_COLUMNS
from worker.core.errors import ReportError
from worker.report.lines import open_lines
from worker.report.reader import open_report
from worker.report.stats import ReportStats

SIZES = [1, 2, 3, 1000]


def line(row, outcome="ok", error=""):
    return [str(row), str(100 + row), "close", "", outcome, "200", "1", error, "5",
            "2024-05-01T00:00:00.000+00:00", ""]


def write(path, rows, tail=""):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(REPORT_COLUMNS)
        writer.writerows(rows)
        f.write(tail)
    return path


@pytest.mark.parametrize("size", SIZES)
def test_every_whole_line_comes_out_in_order(tmp_path, monkeypatch, size):
    monkeypatch.setattr(lines_module, "_CHUNK", size)
    rows = [line(i, error="two\nlines" if i % 3 == 0 else "") for i in range(1, 8)]
    report = open_lines(write(tmp_path / "r.csv", rows))
    assert list(report.all()) == rows and not report.torn
    assert [cells for chunk in report.chunks() for cells in chunk] == rows


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tail", ["9,109,clo", "9,109,close,,ok,200,1,,5,2024,"])
def test_a_last_line_cut_short_is_left_out_and_said(tmp_path, monkeypatch, size, tail):
    monkeypatch.setattr(lines_module, "_CHUNK", size)
    rows = [line(i) for i in range(1, 9)]
    report = open_lines(write(tmp_path / "r.csv", rows, tail))
    assert list(report.all()) == rows and report.torn


@pytest.mark.parametrize("size", SIZES)
def test_a_damaged_line_in_the_middle_is_refused_with_its_line_number(tmp_path,
                                                                      monkeypatch, size):
    monkeypatch.setattr(lines_module, "_CHUNK", size)
    # Row 2's error spans two lines, so row 5 (the damaged one) ends on line 7.
    rows = [line(1), line(2, error="a\nb"), line(3), line(4), line(5, outcome="maybe"),
            line(6), line(7)]
    report = open_lines(write(tmp_path / "r.csv", rows))
    with pytest.raises(ReportError, match=r"r\.csv, line 7: not a report line"):
        list(report.all())


@pytest.mark.parametrize("size", SIZES)
def test_counts_in_chunks_are_the_counts_of_all_lines_at_once(tmp_path, monkeypatch, size):
    rows = [line(1), line(2, "failed", "503 gave up"), line(3, "ok", "read back: closed"),
            line(4, "invalid", "conversation_id 'x' is not ..."), line(5, "skipped"),
            line(6, "failed", "503 gave up"), line(7)]
    rows[1][10] = rows[5][10] = "outage"
    path = write(tmp_path / "r.csv", rows)
    at_once, in_chunks = ReportStats(), ReportStats()
    at_once.add_lines([line for chunk in open_report(path).chunks() for line in chunk])
    monkeypatch.setattr(lines_module, "_CHUNK", size)
    chunks = list(open_report(path).chunks())
    assert size >= len(rows) or len(chunks) > 1  # really in pieces
    for chunk in chunks:
        in_chunks.add_lines(chunk)
    assert in_chunks == at_once
    assert in_chunks.describe(10) == at_once.describe(10)
    assert (in_chunks.rows, in_chunks.failed_on_outage, in_chunks.read_back_ok) == (7, 2, 1)
