"""A resume's kept lines copied as bytes where they are plain: the new report, the rows
kept, their outcomes and the rest of the old report are what the line-by-line copy gives."""

from __future__ import annotations

import csv

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import worker.report.resume as keptcopy
import worker.report.resume as resume
from worker.core.columns import REPORT_COLUMNS
from worker.files.csvdialect import CsvDialect
from worker.report.resume import Copied, KeptPrefix
from worker.report.writer import ReportWriter

WIDTH = len(REPORT_COLUMNS) + 1  # one extra column
EXTRA = ("ticket",)
ERRORS = ["", "", "", "a; b, c", 'said "no"', "two\nlines", "été", "x" * 50, "\r"]


def line(row, outcome, error, extra="T"):
    return [str(row), str(100 + row), "close", "", outcome, "200", "1", error, "5",
            "2024-05-01T00:00:00.000+00:00", "", extra]


def write_old(path, lines, tail=b"", lineterminator="\r\n"):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator=lineterminator)
        writer.writerow([*REPORT_COLUMNS, *EXTRA])
        writer.writerows(lines)
    with open(path, "ab") as f:
        f.write(tail)
    return path


def resumed(tmp_path, old, ahead, name):
    """(new report's bytes, rows kept, their outcomes, the rest of the old report)."""
    kept = KeptPrefix(old, WIDTH, ahead=ahead)
    with ReportWriter(tmp_path / name, EXTRA) as writer:
        kept.write_to(writer)
    return ((tmp_path / name).read_bytes(), kept.rows, dict(kept.outcomes),
            list(kept.rest()))


def both_ways(tmp_path, monkeypatch, old, ahead=None):
    ahead = ahead or {}
    monkeypatch.setattr(keptcopy, "_BLOCK", 64)  # many blocks, lines across their edges
    fast = resumed(tmp_path, old, ahead, "fast.csv")
    with monkeypatch.context() as m:
        m.setattr(resume, "copy_plain_kept", lambda *a: Copied())
        slow = resumed(tmp_path, old, ahead, "slow.csv")
    return fast, slow


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(st.sampled_from(["ok"] * 6 + ["invalid", "failed",
                                                               "skipped"]),
                                st.sampled_from(ERRORS)), max_size=40),
       ahead=st.sets(st.integers(1, 45), max_size=2),
       tail=st.sampled_from([b"", b"41,141,clo", b"7,7,x\r\n"]),
       gap=st.integers(0, 45))
def test_copied_as_bytes_or_line_by_line_the_resume_is_the_same(tmp_path, monkeypatch,
                                                                 cells, ahead, tail, gap):
    lines = [line(i, outcome, error) for i, (outcome, error) in enumerate(cells, 1)]
    if gap < len(lines):
        lines[gap][0] = str(gap + 5)  # a row out of sequence: the trusted prefix ends
    old = write_old(tmp_path / "old.csv", lines, tail)
    fast, slow = both_ways(tmp_path, monkeypatch, old, {r: line(r, "ok", "") for r in ahead})
    assert fast == slow


def test_a_plain_report_is_copied_whole_up_to_its_first_failed_row(tmp_path, monkeypatch):
    lines = [line(i, "ok", "") for i in range(1, 30)] + [line(30, "failed", "503 gave up")]
    old = write_old(tmp_path / "old.csv", [*lines, line(31, "ok", "")])
    copied = []
    real = keptcopy.copy_plain_kept
    monkeypatch.setattr(resume, "copy_plain_kept", lambda *a: copied.append(real(*a))
                        or copied[-1])
    (fast, rows, outcomes, rest), slow = both_ways(tmp_path, monkeypatch, old)
    assert (fast, rows, outcomes, rest) == slow
    assert rows == 29 and [r[0] for r in rest] == ["30", "31"]
    assert copied[0].rows == 29  # every kept line as bytes


@pytest.mark.parametrize("header", ["other", "lf"])
def test_nothing_is_copied_as_bytes_unless_the_headers_are_the_same_bytes(tmp_path,
                                                                          monkeypatch,
                                                                          header):
    lines = [line(i, "ok", "") for i in range(1, 10)]
    old = write_old(tmp_path / "old.csv", lines,
                    lineterminator="\n" if header == "lf" else "\r\n")
    if header == "other":
        text = old.read_bytes().replace(b"ticket", b"tickets", 1)
        old.write_bytes(text)
    copied = []
    real = resume.copy_plain_kept
    monkeypatch.setattr(resume, "copy_plain_kept",
                        lambda *a: copied.append(real(*a)) or copied[0])
    fast, slow = both_ways(tmp_path, monkeypatch, old)
    assert copied[0].rows == 0 and copied[0].resume_at is None
    if header == "lf":
        assert fast == slow  # line by line: the lines, in the new report's own dialect


def test_the_delimiter_is_the_new_reports_own(tmp_path):
    header = ";".join([*REPORT_COLUMNS, *EXTRA]).encode() + b"\r\n"
    body = b"".join(";".join(line(i, "ok", "a, b")).encode() + b"\r\n" for i in (1, 2))
    old = tmp_path / "old.csv"
    old.write_bytes(header + body + b"3;103;close;;failed")
    written = []
    copied = keptcopy.copy_plain_kept(old, header, ";", WIDTH, {"ok", "invalid"}, {},
                                      lambda data, n: written.append((data, n)))
    assert (copied.rows, copied.resume_at) == (2, len(header) + len(body))
    assert written == [(body, 2)]


def test_a_semicolon_report_with_a_bom_is_copied_as_bytes_too(tmp_path, monkeypatch):
    excel = CsvDialect(";", True)
    lines = [line(i, "ok", "a, b") for i in range(1, 20)] + [line(20, "skipped", "")]
    with ReportWriter(tmp_path / "old.csv", EXTRA, dialect=excel) as old:
        old.write_lines(lines)
    copied = []
    real = keptcopy.copy_plain_kept
    monkeypatch.setattr(resume, "copy_plain_kept", lambda *a: copied.append(real(*a))
                        or copied[-1])
    monkeypatch.setattr(keptcopy, "_BLOCK", 64)
    kept = KeptPrefix(tmp_path / "old.csv", WIDTH, ahead={})
    with ReportWriter(tmp_path / "new.csv", EXTRA, dialect=excel) as writer:
        kept.write_to(writer)
    assert copied[0].rows == kept.rows == 19
    old_bytes = (tmp_path / "old.csv").read_bytes()
    assert old_bytes.startswith("\ufeff".encode())
    assert (tmp_path / "new.csv").read_bytes() == old_bytes[: copied[0].resume_at]
    assert [r[0] for r in kept.rest()] == ["20"]
