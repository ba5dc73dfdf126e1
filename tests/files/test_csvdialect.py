"""The CSV dialect: decided once from a file's first line (delimiter) and first bytes
(BOM), and what `--csv-dialect` resolves to."""

from __future__ import annotations

import pytest

from worker.commands._flags import CSV_DIALECTS
from worker.files.csvdialect import (
    COMMA,
    EXCEL_FR,
    CsvDialect,
    DialectChoice,
    delimiter_of,
    has_bom,
    of_report,
)

BOM = "\ufeff"


@pytest.mark.parametrize(("header", "delimiter"), [
    ("conversation_id,status", ","),
    ("conversation_id;status", ";"),
    ("conversation_id", ","),  # one column: either reads it
    ('conversation_id;"a,b,c";status', ";"),  # what is quoted does not count
    ('conversation_id,"a;b;c",status', ","),
    ("a;b,c;d", ";"),  # more of one than the other
])
def test_a_headers_delimiter_is_the_one_it_has_more_of_outside_quotes(header, delimiter):
    assert delimiter_of(header) == delimiter


@pytest.mark.parametrize(("text", "dialect"), [
    ("row,conversation_id,action\r\n1,1,close\r\n", COMMA),
    (BOM + "row;conversation_id;action\r\n1;1;close\r\n", EXCEL_FR),
    (BOM + "row,conversation_id\r\n", CsvDialect(",", True)),  # English Excel's UTF-8 CSV
    ("row;conversation_id\r\n", CsvDialect(";", False)),  # LibreOffice's French default
    # A report's first column decides, whatever its extra column names hold.
    ("row;conversation_id;" + ",".join("abcdefghijklmnop") + "\r\n", CsvDialect(";", False)),
    # Not a report (the header check then says what it is): the job's rule.
    (BOM + "conversation_id;status\r\n", EXCEL_FR),
    ("", COMMA),
])
def test_a_reports_dialect_comes_from_its_first_bytes(tmp_path, text, dialect):
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode("utf-8"))
    assert of_report(path) == dialect
    assert has_bom(path) is dialect.bom


@pytest.mark.parametrize(("choice", "source", "dialect"), [
    ("auto", EXCEL_FR, EXCEL_FR),
    ("auto", CsvDialect(",", True), CsvDialect(",", True)),  # BOM and delimiter each
    ("auto", None, COMMA),  # select: no file to follow
    ("comma", EXCEL_FR, COMMA),
    ("excel-fr", COMMA, EXCEL_FR),
    ("excel-fr", None, EXCEL_FR),
])
def test_auto_follows_the_source_and_a_named_dialect_wins(choice, source, dialect):
    assert DialectChoice(choice).resolve(source) == dialect


def test_the_flags_choices_are_the_settings():
    assert CSV_DIALECTS == tuple(c.value for c in DialectChoice)


def test_a_dialect_says_what_it_is():
    assert EXCEL_FR.describe() == "';' with a BOM (excel-fr)"
    assert COMMA.describe() == "',' without a BOM (comma)"
    assert CsvDialect(",", True).describe() == "',' with a BOM"
