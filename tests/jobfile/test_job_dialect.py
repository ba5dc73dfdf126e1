"""A job's dialect is known once it is opened; the one job-file writer writes any dialect,
and the job reader reads what it wrote back as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.core.operations import Operation, make_override
from worker.files.csvdialect import COMMA, EXCEL_FR, CsvDialect
from worker.jobfile.reader import open_job
from worker.jobfile.writer import JobWriter, open_job_writer

BOM = "\ufeff"


@pytest.mark.parametrize(("text", "dialect"), [
    ("conversation_id,status\n1,closed\n", COMMA),
    (BOM + "conversation_id;status\r\n1;closed\r\n", EXCEL_FR),
    (BOM + "conversation_id,status\r\n1,closed\r\n", CsvDialect(",", True)),
    ("\n;;\nconversation_id;status\n1;closed\n", CsvDialect(";", False)),
    (BOM + "12\n13\n", CsvDialect(",", True)),  # a plain list of ids
])
def test_an_opened_job_knows_its_delimiter_and_bom(tmp_path, text, dialect):
    path = tmp_path / "job.csv"
    path.write_bytes(text.encode("utf-8"))
    override = make_override("close", None) if "status" not in text else None
    assert open_job(path, override).dialect == dialect


@pytest.mark.parametrize("dialect", [COMMA, EXCEL_FR, CsvDialect(";", False),
                                     CsvDialect(",", True)])
def test_a_job_written_in_any_dialect_reads_back_as_it_was_written(tmp_path, dialect):
    out = tmp_path / "job.csv"
    rows = [["1", "closed", "", "café; crème"], ["2", "", "u1", 'a, "b"'],
            ["3", "open", "", "deux\nlignes"]]
    with JobWriter(out, ["conversation_id", "status", "assigned_user_id", "note"],
                   overwrite=False, dialect=dialect) as writer:
        for row in rows:
            writer.write(row)
        writer.commit()

    data = out.read_bytes()
    assert data.startswith(BOM.encode()) is dialect.bom and data.count(BOM.encode()) <= 1
    assert data.decode("utf-8-sig").startswith(
        dialect.delimiter.join(["conversation_id", "status", "assigned_user_id", "note"]))
    job = open_job(out)
    assert job.dialect == dialect
    items = list(job.items())
    assert all(isinstance(i, Operation) for i in items)
    assert [i.cells for i in items if isinstance(i, Operation)] == [[r[3]] for r in rows]


def test_a_job_on_stdout_starts_with_the_bom_once(capsys):
    with open_job_writer(Path("-"), ["conversation_id", "status"], overwrite=False,
                         dialect=EXCEL_FR) as writer:
        writer.write(["1", "closed"])
        writer.commit()
    assert capsys.readouterr().out == BOM + "conversation_id;status\n1;closed\n"
