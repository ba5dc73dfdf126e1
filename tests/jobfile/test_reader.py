"""Reading job files: shapes accepted, rows judged invalid, files refused at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.core.errors import JobFileError
from worker.core.operations import Action, Operation, Override
from worker.core.outcomes import Outcome, Result
from worker.jobfile.reader import open_job


def write(tmp_path: Path, text: str, name: str = "job.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def items(path: Path, override: Override | None = None) -> list[Operation | Result]:
    return list(open_job(path, override).items())


def test_reads_status_and_assignee_rows_with_extra_columns(tmp_path):
    path = write(tmp_path, "conversation_id,status,assigned_user_id,note\n"
                           "1,closed,,stale\n2,,62d80fae74e8b11d700302b8,bob\n3,,unassigned,\n"
                           "4,OPEN,,x\n")
    got = items(path)
    assert [(i.row, i.conversation_id, i.action, i.value, i.cells) for i in got] == [
        (1, 1, Action.CLOSE, "", ["stale"]),
        (2, 2, Action.ASSIGN, "62d80fae74e8b11d700302b8", ["bob"]),
        (3, 3, Action.UNASSIGN, "", [""]),
        (4, 4, Action.OPEN, "", ["x"]),
    ]
    assert open_job(path).extra_columns == ("note",)


def test_semicolons_a_bom_and_crlf_are_accepted(tmp_path):
    path = write(tmp_path, "\ufeffconversation_id;status\r\n10;closed\r\n11;open\r\n")
    assert [(i.conversation_id, i.action) for i in items(path)] == \
        [(10, Action.CLOSE), (11, Action.OPEN)]


@pytest.mark.parametrize("raw", ["abc", "-5", "1/../x", "١٢٣", "１２３", "", "0", "1.5",
                                 "99999999999999999999"])
def test_bad_ids_make_the_row_invalid_with_the_fix(tmp_path, raw):
    path = write(tmp_path, f'conversation_id,status\n"{raw}",closed\n2,closed\n')
    first, second = items(path)
    assert isinstance(first, Result) and first.outcome is Outcome.INVALID
    assert "conversation_id" in first.error
    assert isinstance(second, Operation) and second.row == 2


@pytest.mark.parametrize(("status", "assignee", "fragment"), [
    ("closd", "", "status 'closd' is not valid"),
    ("closed", "62d80fae74e8b11d700302b8", "both status and assigned_user_id"),
    ("", "", "no action"),
    ("", "62d80fae 74e8", "spaces or control characters"),
    ("", "abc\x01", "spaces or control characters"),
])
def test_bad_actions_make_the_row_invalid(tmp_path, status, assignee, fragment):
    path = write(tmp_path, "conversation_id,status,assigned_user_id\n"
                           f'1,"{status}","{assignee}"\n')
    (row,) = items(path)
    assert isinstance(row, Result) and fragment in row.error


def test_spaces_around_a_user_id_are_trimmed_as_around_an_id(tmp_path):
    path = write(tmp_path, "conversation_id,assigned_user_id\n 1 , 62d80fae74e8b11d700302b8 \n"
                           "2,\tunassigned \n")
    first, second = items(path)
    assert isinstance(first, Operation) and first.value == "62d80fae74e8b11d700302b8"
    assert first.body() == {"assigned_user_id": "62d80fae74e8b11d700302b8"}
    assert isinstance(second, Operation) and second.action is Action.UNASSIGN


def test_a_user_id_of_any_format_is_left_for_the_api_to_judge(tmp_path):
    path = write(tmp_path, "conversation_id,assigned_user_id\n1,not-a-hex-id-0123456789a\n")
    (op,) = items(path)
    assert isinstance(op, Operation) and op.value == "not-a-hex-id-0123456789a"


def test_blank_lines_are_not_rows(tmp_path):
    path = write(tmp_path, "conversation_id,status\n\n1,closed\n,\n \n2,closed\n")
    assert [(i.row, i.conversation_id) for i in items(path)] == [(1, 1), (2, 2)]


def test_plain_list_of_ids_with_an_override(tmp_path):
    path = write(tmp_path, "101\n102\n\nxyz\n", name="ids.txt")
    got = items(path, Override(Action.CLOSE))
    assert [i.outcome if isinstance(i, Result) else i.conversation_id for i in got] == \
        [101, 102, Outcome.INVALID]


def test_one_column_csv_with_header_and_override(tmp_path):
    path = write(tmp_path, "conversation_id,agent\n5,ann\n")
    (op,) = items(path, Override(Action.ASSIGN, "u1"))
    assert (op.conversation_id, op.action, op.value, op.cells) == (5, Action.ASSIGN, "u1",
                                                                   ["ann"])


def test_quoted_newlines_stay_inside_their_cell(tmp_path):
    path = write(tmp_path, 'conversation_id,status,note\n1,closed,"two\nlines"\n2,open,x\n')
    first, second = items(path)
    assert first.cells == ["two\nlines"] and second.row == 2


def test_a_row_with_too_many_cells_is_invalid(tmp_path):
    path = write(tmp_path, "conversation_id,status\n1,closed,extra\n")
    (row,) = items(path)
    assert isinstance(row, Result) and "3 cells but the header has 2" in row.error


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "the file is empty"),
    ("conversation id,status\n1,closed\n",
     "If column 'conversation id' is meant to be 'conversation_id', rename it"),
    ("id,status\n1,closed\n", "If column 'id' is meant to be 'conversation_id', rename it"),
    ("id,status\n1,closed\n", "no 'conversation_id' column"),
    ("conversation_id,note\n1,x\n", "no action column"),
    ("conversation_id,status,status\n1,closed,open\n", "appears more than once"),
    ("conversation_id,status,outcome\n1,closed,x\n", "name of a report column"),
    ("123\n456\n", "plain list of ids: pass --action"),
])
def test_unusable_files_are_refused_with_the_fix(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(JobFileError) as err:
        items(path)
    assert fragment in str(err.value) and str(path) in str(err.value)


def test_latin1_file_is_refused_at_the_bad_line(tmp_path):
    path = write(tmp_path, "conversation_id,status,note\n1,closed,ok\n2,closed,café\n",
                 encoding="latin-1")
    with pytest.raises(JobFileError) as err:
        items(path)
    assert "not UTF-8" in str(err.value) and "iconv" in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(JobFileError, match="no such job file"):
        open_job(tmp_path / "nope.csv")
    with pytest.raises(JobFileError, match="is a folder"):
        open_job(tmp_path)


def test_unclosed_quote_swallowing_the_file_is_refused(tmp_path):
    path = write(tmp_path, 'conversation_id,status,note\n1,closed,"oops\n' + "x" * (1 << 21))
    with pytest.raises(JobFileError, match="line 2: a quote opened on this line does not close"):
        items(path)


def test_action_columns_and_override_together_are_refused(tmp_path):
    path = write(tmp_path, "conversation_id,status\n1,closed\n")
    with pytest.raises(JobFileError, match="use one or the other"):
        open_job(path, Override(Action.CLOSE))


def test_a_typo_in_an_action_column_is_named_not_sent_to_action(tmp_path):
    path = write(tmp_path, "conversation_id,staus\n1,closed\n2,open\n")
    with pytest.raises(JobFileError) as err:
        open_job(path)
    message = str(err.value)
    assert "If column 'staus' is meant to be 'status', rename it to 'status'" in message
    assert "--action" not in message


def test_a_report_given_as_a_job_says_what_to_do(tmp_path):
    path = write(tmp_path, "row,conversation_id,action,value,outcome,http_status,attempts,"
                           "error,duration_ms,finished_at\n1,5,close,,failed,500,5,x,1,t\n")
    with pytest.raises(JobFileError, match="this is a report of `partoo-bulk run`, not a job"):
        open_job(path)


def test_excel_trailing_empty_header_cells_are_kept_as_unnamed_columns(tmp_path):
    path = write(tmp_path, "conversation_id,status,,\n1,closed,,\n2,open,x,\n")
    job = open_job(path)
    assert job.extra_columns == ("column_3", "column_4")
    assert [i.cells for i in job.items()] == [["", ""], ["x", ""]]


def test_a_plain_list_line_with_two_cells_says_one_id_per_line(tmp_path):
    path = write(tmp_path, "5\n6,7\n", name="ids.txt")
    first, second = items(path, Override(Action.CLOSE))
    assert isinstance(first, Operation)
    assert isinstance(second, Result) and "one id per line" in second.error


def test_the_line_of_a_latin1_byte_is_the_real_one(tmp_path):
    body = "".join(f"{i},closed,ok\n" for i in range(1, 5000))
    path = write(tmp_path, "conversation_id,status,note\n" + body + "5000,closed,fermé\n",
                 encoding="latin-1")
    with pytest.raises(JobFileError) as err:
        items(path)
    assert "line 5001: the file is not UTF-8 text (byte 0xe9)" in str(err.value)


@pytest.mark.parametrize("text, override", [
    ("conversation_id,status,note\n1,closed,a\n\n,,\n2,nope,b\n-3,open,c\n", None),
    ("\n\nconversation_id;assigned_user_id\r\n7;u1\r\n8;\r\n", None),
    ("11\n12\n\n abc \n", Override(Action.CLOSE)),
    ("conversation_id,status\n", None),
    ('conversation_id,status,note\n1,closed,"two\nlines"\n2,open,x\n', None),
])
def test_counting_rows_gives_what_items_yields_without_parsing_them(tmp_path, text,
                                                                    override):
    job = open_job(write(tmp_path, text), override)
    assert job.count_rows() == len(list(job.items()))


def test_counting_rows_refuses_an_unreadable_file_as_items_does(tmp_path):
    body = "".join(f"{i},closed,ok\n" for i in range(1, 5000))
    path = write(tmp_path, "conversation_id,status,note\n" + body + "5000,closed,fermé\n",
                 encoding="latin-1")
    with pytest.raises(JobFileError, match="line 5001: the file is not UTF-8"):
        open_job(path).count_rows()
    path = write(tmp_path, 'conversation_id,status,note\n1,closed,"oops\n' + "x" * (1 << 21))
    with pytest.raises(JobFileError, match="line 2: a quote opened on this line does not close"):
        open_job(path).count_rows()
