"""A job's rows counted, or skipped by a resume, a list of records at a time: the same
rows, the same count, the same error with its line, as reading them one by one."""

from __future__ import annotations

import pytest

import worker.jobfile.reader as reader_module
from worker.core.errors import JobFileError
from worker.jobfile.reader import open_job

JOB = ("conversation_id,status\n\n1,closed\n , \n2,open\n\"3\",\"closed\"\n;\n"
       "4,closd\n\"5\nx\",closed\n6,closed\n,\n7,open\n")


@pytest.mark.parametrize("chunk", [1, 2, 3, 256])
def test_skipped_rows_and_the_count_match_reading_every_row(tmp_path, monkeypatch, chunk):
    path = tmp_path / "job.csv"
    path.write_text(JOB, encoding="utf-8")
    every = [(item.row, type(item).__name__) for item in open_job(path).items()]
    monkeypatch.setattr(reader_module, "_CHUNK", chunk)
    job = open_job(path)
    assert job.count_rows() == len(every) == 8
    for skip in range(len(every) + 2):
        assert [(item.row, type(item).__name__) for item in job.items(skip=skip)] == \
            every[skip:]


@pytest.mark.parametrize("chunk", [1, 3, 256])
@pytest.mark.parametrize(("tail", "message"), [
    ('9,"closed" x\n', r"line 14: not a readable CSV"),
    ("9," + "x" * (reader_module.MAX_CELL + 1) + "\n", r"line 14: a cell is over"),
])
def test_a_bad_line_among_the_skipped_or_counted_rows_is_named(tmp_path, monkeypatch,
                                                               chunk, tail, message):
    path = tmp_path / "job.csv"
    path.write_bytes(JOB.encode() + tail.encode() + b"10,open\n")
    monkeypatch.setattr(reader_module, "_CHUNK", chunk)
    job = open_job(path)
    with pytest.raises(JobFileError, match=message):
        job.count_rows()
    with pytest.raises(JobFileError, match=message):
        list(job.items(skip=9))
