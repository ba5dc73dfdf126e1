"""Hostile job files: generated (hypothesis) and hand-made, through the real CLI.

Each generated file comes with what the README promises about it, worked out from how it
was built, not from the reader: which lines are rows, which rows are invalid, and the body
each valid row must send. Invariants, for every file:
- never a traceback (nor our "internal error" message);
- either refused at start-up (exit 2, a message naming the file and the line, nothing
  sent, no report), or every data row has exactly one report line, in row order;
- nothing invalid reaches the server, and each valid row is sent once with its body;
- every report cell a spreadsheet would run as a formula is neutralised, NUL bytes never
  reach the report, and extra columns are carried through otherwise unchanged.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from helpers import SECRET, csv_dialect, read_report, sim_env
from worker.core.columns import REPORT_COLUMNS
from worker.core.errors import JobFileError
from worker.core.operations import Operation
from worker.jobfile.reader import open_job
from worker.simulator import ALICE, BOB, LONG_ID_USER, Simulator, SimulatorThread, seeded_state

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
N_CONVERSATIONS = 200
# Examples are generated from a fixed seed (derandomize): the same files on every run.
E2E = settings(max_examples=150, deadline=None, derandomize=True, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow, HealthCheck.data_too_large])
READER = settings(E2E, max_examples=500)


# --- what a job file is made of, and what the README says must come of it ---------------

@dataclass
class JobText:
    text: str
    rows: list[list[str]]  # the data records as written (cells), blank ones included
    id_col: int
    status_col: int | None
    assignee_col: int | None
    extra_cols: list[int]
    width: int
    refused_because: str | None = None  # set when the header is broken on purpose
    header_line: int = 1
    dialect: tuple[str, bool] = (",", False)  # (delimiter, BOM): the report's too


@dataclass
class Expected:
    """One data row as the README defines it: invalid (never sent) or the body it sends."""

    raw_id: str
    body: dict[str, str] | None  # None: invalid
    conversation_id: int | None = None
    extras: list[str] = field(default_factory=list)


def neutralised(cell: str) -> str:
    """The README: formula-like cells get a leading ', and a NUL is not kept as such."""
    cell = cell.replace("\x00", "\ufffd")
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def expected_id(raw: str) -> int | None:
    """A positive whole number in ASCII digits (spaces and tabs around it tolerated)."""
    match = re.fullmatch(r"[ \t]*([0-9]+)[ \t]*", raw)
    if match is None or not 0 < int(match.group(1)) <= 2**63 - 1:
        return None
    return int(match.group(1))


def expected_body(status: str, assignee: str) -> dict[str, str] | None:
    """Exactly one of status (open/closed) and assigned_user_id (no spaces or controls
    inside); spaces and tabs around either are trimmed."""
    status = status.strip(" \t")
    assignee = assignee.strip(" \t")
    if status and assignee:
        return None
    if status:
        return {"status": status.lower()} if status.lower() in ("open", "closed") else None
    if not assignee or re.search(r"[\s\x00-\x1f\x7f-\x9f]", assignee):
        return None
    if assignee.lower() == "unassigned":
        return {"assigned_user_id": "unassigned"}
    return {"assigned_user_id": assignee}


def expected_rows(job: JobText) -> list[Expected]:
    out = []
    for cells in job.rows:
        if not any(c.strip() for c in cells):
            continue  # a blank line, or only blank cells: not a row
        def cell(i: int | None, cells: list[str] = cells) -> str:
            return cells[i] if i is not None and i < len(cells) else ""
        raw_id = cell(job.id_col)
        extras = [cell(i) for i in job.extra_cols]
        cid = expected_id(raw_id)
        body = expected_body(cell(job.status_col), cell(job.assignee_col))
        if len(cells) > job.width or cid is None or body is None:
            out.append(Expected(raw_id, None, extras=extras))
        else:
            out.append(Expected(raw_id, body, cid, extras))
    return out


# --- strategies ----------------------------------------------------------------------------

any_text = st.text(st.characters(codec="utf-8"), max_size=12)
ids = st.one_of(
    st.integers(1, N_CONVERSATIONS).map(str),
    st.integers(1, N_CONVERSATIONS).map(str),
    st.tuples(st.sampled_from(["", " ", "\t", "00"]), st.integers(1, N_CONVERSATIONS),
              st.sampled_from(["", " ", "\t "])).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
    st.integers(N_CONVERSATIONS + 1, 10**12).map(str),  # well formed, unknown: a 404
    st.sampled_from(["", "abc", "-5", "+5", "0", "١٢٣", "１２３", "12.0", "1e3", "12\x00",
                     "=1+1", "@12", "1 2", "9" * 20, "²", "12\n", "4٣", "\u00a012", "0x1F",
                     "\ufeff7", "7\r", "+33 6 12 34 56 78", "-0", "\u3000"]),
    any_text,
)
valid_statuses = st.sampled_from(["open", "closed", "Closed", " closed\t", "OPEN"])
statuses = st.one_of(valid_statuses, valid_statuses,
                     st.sampled_from(["", "", "", "maybe", "clos\x00ed", "ｃｌｏｓｅｄ",
                                      "closed\n", "=open", "opened"]),
                     any_text)
valid_assignees = st.sampled_from([ALICE, BOB, LONG_ID_USER, "unassigned", "Unassigned",
                                   "nobody-at-all", '=HYPERLINK("http://x")', "@evil"])
assignees = st.one_of(valid_assignees, valid_assignees,
                      st.sampled_from(["", "", "", "a b", "x\x00y", "\u3000", "bob\n",
                                       "\tALICE", "\u00a0"]),
                      any_text)
HUGE = "x" * 70_000  # big, but under the 1 MiB limit of a cell: carried through
extra_cells = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(["=1+1", "+33 6", "-5", "@SUM(A1:A9)", "\t=x", "\r=x", "=cmd|' /C calc'!A0",
                     'say "hi", ok; bye', "two\nlines", "cr\ronly", "crlf\r\nend", "nul\x00",
                     "\x00=1", "é ü 漢字 🙂", ""]),
    st.just(HUGE),
)
extra_names = st.lists(st.sampled_from(["note", "ticket", "Owner", "=cmd", "@team", "+x",
                                        "-y", "commentaire é", "ｎｏｔｅ", ""]),
                       max_size=3, unique_by=lambda n: n.strip().lower())
id_names = st.sampled_from(["conversation_id", "Conversation_ID", " conversation_id ",
                            "CONVERSATION_ID"])
broken_headers = st.sampled_from([None] * 16 + ["missing id", "duplicate", "report name",
                                               "no action"])
line_ends = st.sampled_from(["\n", "\r\n", "\r"])
blank_lines = st.lists(st.sampled_from(["", " ", "\t", "DELIM", "DELIM DELIM"]), max_size=2)


def encode(cells: list[str], delim: str, quote_all: bool) -> str:
    out = []
    for c in cells:
        if quote_all or any(ch in c for ch in (delim, '"', "\r", "\n")):
            c = '"' + c.replace('"', '""') + '"'
        out.append(c)
    return delim.join(out)


@st.composite
def job_texts(draw, *, allow_broken: bool = True) -> JobText:
    delim = draw(st.sampled_from([",", ";"]))
    has_status, has_assignee = draw(st.sampled_from([(True, False), (False, True),
                                                     (True, True)]))
    broken = draw(broken_headers) if allow_broken else None
    names = [draw(id_names)]
    names += ["status"] * has_status + ["assigned_user_id"] * has_assignee
    names += draw(extra_names)
    if broken == "no action":
        names = [n for n in names if n not in ("status", "assigned_user_id")]
    order = draw(st.permutations(range(len(names))))
    header = [names[i] for i in order]
    if broken == "missing id":
        header[header.index(names[0])] = draw(st.sampled_from(["conversation id", "id",
                                                               "conversationid"]))
    elif broken == "duplicate":
        # An empty name is not a duplicate: unnamed columns are named column_N.
        header.append(draw(st.sampled_from([h for h in header if h.strip()])).upper())
    elif broken == "report name":
        header.append(draw(st.sampled_from(["outcome", "Error", "row"])))
    width = len(header)
    lowered = [h.strip().lower() for h in header]
    id_col = lowered.index("conversation_id") if "conversation_id" in lowered else 0
    status_col = lowered.index("status") if has_status and broken != "no action" else None
    assignee_col = (lowered.index("assigned_user_id")
                    if has_assignee and broken != "no action" else None)
    fixed = {id_col, status_col, assignee_col}
    extra_cols = [i for i in range(width) if i not in fixed]

    rows = []
    for _ in range(draw(st.sampled_from([0, 1, 3, 6, 12, 25]))):
        cells = [""] * width
        cells[id_col] = draw(ids)
        # Mostly one action filled, as a real job has; sometimes anything at all.
        use = draw(st.sampled_from(["status", "assignee", "any"]))
        if status_col is not None:
            cells[status_col] = draw(statuses if use != "assignee" else st.just(""))
        if assignee_col is not None:
            cells[assignee_col] = draw(assignees if use != "status" else st.just(""))
        for i in extra_cols:
            cells[i] = draw(extra_cells)
        shape = draw(st.sampled_from(["same"] * 8 + ["wider", "trimmed"]))
        if shape == "wider":
            cells += draw(st.lists(extra_cells, min_size=1, max_size=2))
        elif shape == "trimmed":
            while len(cells) > 1 and cells[-1] == "":
                cells.pop()
        rows.append(cells)

    quote_all = draw(st.booleans())
    bom = "\ufeff" if draw(st.booleans()) else ""
    # A line of separators is blank only where there is more than one column to separate.
    blank_delim = delim if width > 1 else ""
    parts = []
    for blank in draw(blank_lines):
        parts += [blank.replace("DELIM", blank_delim), draw(line_ends)]
    # "\r" then "\n" is one line end, not two: count lines as a reader does.
    header_line = len("".join(parts).splitlines()) + 1
    parts = [bom, *parts, encode(header, delim, quote_all), draw(line_ends)]
    written = []
    for cells in rows:
        for blank in draw(blank_lines):
            parts += [blank.replace("DELIM", blank_delim), draw(line_ends)]
            written.append([])
        parts.append(encode(cells, delim, quote_all or draw(st.booleans())))
        parts.append(draw(st.sampled_from(["\n", "\r\n", "\r", ""])) if cells is rows[-1]
                     else draw(line_ends))
        written.append(cells)
    return JobText("".join(parts), written, id_col, status_col, assignee_col, extra_cols,
                   width, broken, header_line, (delim, bool(bom)))


# --- the reader alone: cheap, so many examples --------------------------------------------

@READER
@given(job=job_texts())
def test_the_reader_turns_any_file_into_the_rows_the_readme_promises(job, tmp_path):
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "job.csv"
    path.write_bytes(job.text.encode("utf-8"))
    try:
        items = list(open_job(path).items())
    except JobFileError as exc:
        assert job.refused_because, f"a well-formed file was refused: {exc}"
        assert str(path) in str(exc) and f"line {job.header_line}" in str(exc)
        return
    assert job.refused_because is None, f"accepted a file with a {job.refused_because}"
    expected = expected_rows(job)
    assert [item.row for item in items] == list(range(1, len(expected) + 1))
    for item, want in zip(items, expected, strict=True):
        if want.body is None:
            assert not isinstance(item, Operation), (item, want)
            assert item.conversation_id == want.raw_id and item.error
        else:
            assert isinstance(item, Operation), (item, want)
            assert (item.conversation_id, item.body()) == (want.conversation_id, want.body)
        assert item.cells == want.extras


# --- the whole CLI, against the simulator ----------------------------------------------------

@pytest.fixture(scope="module")
def sim():
    thread = SimulatorThread(Simulator(seeded_state(N_CONVERSATIONS), keys=(SECRET,)))
    thread.start()
    yield thread
    thread.stop()


def patches_since(sim: SimulatorThread, seq: int) -> list:
    return sim.call(lambda s: [r for r in s.state.log.records
                               if r.seq > seq and r.method == "PATCH"])


def last_seq(sim: SimulatorThread) -> int:
    return sim.call(lambda s: s.state.log.requests)


def raw_report(path: Path) -> list[list[str]]:
    """The report's records, in the dialect it is written in (the job's)."""
    delimiter, _bom = csv_dialect(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def check_no_traceback(result) -> None:
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    assert "never retrieved" not in result.err, result.err


@E2E
@given(job=job_texts())
def test_a_hostile_job_file_is_refused_or_reported_row_for_row(job, tmp_path, sim, cli):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "job.csv"
    path.write_bytes(job.text.encode("utf-8"))
    report = folder / "job.report.csv"
    before = last_seq(sim)

    result = cli("run", path, "--yes", "--quiet", env=sim_env(sim))

    check_no_traceback(result)
    assert SECRET not in result.out + result.err
    sent = patches_since(sim, before)
    event(f"refused: {job.refused_because}" if job.refused_because else "accepted")
    if job.refused_because:
        assert result.code == 2, (job.refused_because, result)
        assert str(path) in result.err and f"line {job.header_line}" in result.err
        assert sent == [] and not report.exists()
        return
    assert result.code in (0, 1), result.err
    expected = expected_rows(job)
    assert csv_dialect(report) == job.dialect  # opens where the job was made
    lines = raw_report(report)
    header, body = lines[0], lines[1:]
    assert [int(line[0]) for line in body] == list(range(1, len(expected) + 1))

    # Nothing invalid reached the server; each valid row went exactly once, with its body.
    want = Counter((e.conversation_id, json.dumps(e.body, sort_keys=True))
                   for e in expected if e.body is not None)
    got = Counter((r.conversation_id, json.dumps(r.body, sort_keys=True)) for r in sent)
    assert got == want
    # Each sent row's outcome is what the server answered; invalid rows were never sent.
    rows = read_report(report)
    for row, want_row in zip(rows, expected, strict=True):
        if want_row.body is None:
            assert (row["outcome"], row["attempts"], row["http_status"]) == ("invalid", "0", "")
            assert row["conversation_id"] == neutralised(want_row.raw_id)
            assert row["error"]
        else:
            assert row["attempts"] == "1" and row["conversation_id"] == str(
                want_row.conversation_id)
            assert row["outcome"] == ("ok" if row["http_status"] == "200" else "failed")
    assert Counter((r.conversation_id, str(r.status)) for r in sent) == Counter(
        (int(row["conversation_id"]), row["http_status"]) for row in rows
        if row["outcome"] != "invalid")
    assert result.code == (0 if all(r["outcome"] == "ok" for r in rows) else 1)
    for outcome in sorted({r["outcome"] for r in rows}):
        event(f"some rows {outcome}")
    event("rows sent: " + ("none" if not sent else "1-5" if len(sent) < 6 else "6+"))

    # Extra columns carried through; nothing a spreadsheet would run; no NUL on disk.
    assert len(header) == len(REPORT_COLUMNS) + len(job.extra_cols)
    for line, want_row in zip(body, expected, strict=True):
        assert line[len(REPORT_COLUMNS):] == [neutralised(c) for c in want_row.extras]
    for line in lines:
        for cell in line:
            assert not cell.startswith(FORMULA_START), cell
    assert "\x00" not in report.read_text(encoding="utf-8")


ID_LISTS = st.lists(st.one_of(ids, st.sampled_from(["", " "])), max_size=15)


@settings(E2E, max_examples=60)
@given(cells=ID_LISTS, end=line_ends, bom=st.booleans())
def test_a_hostile_plain_list_of_ids_is_reported_row_for_row(cells, end, bom, tmp_path,
                                                             sim, cli):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "ids.txt"
    text = ("\ufeff" if bom else "") + "".join(encode([c], ",", False) + end for c in cells)
    path.write_bytes(text.encode("utf-8"))
    before = last_seq(sim)

    result = cli("run", path, "--yes", "--quiet", "--action", "close", env=sim_env(sim))

    check_no_traceback(result)
    rows = [c for c in cells if c.strip()]
    if not rows:
        # Nothing but blank lines: an empty job, refused as such.
        assert result.code == 2 and "empty" in result.err
        return
    assert result.code in (0, 1), result.err
    report = read_report(folder / "ids.report.csv")
    assert [r["row"] for r in report] == [str(i) for i in range(1, len(rows) + 1)]
    sent = patches_since(sim, before)
    valid = [expected_id(c) for c in rows]
    assert Counter(r.conversation_id for r in sent) == Counter(v for v in valid if v)
    assert all(r.body == {"status": "closed"} for r in sent)
    for row, cid in zip(report, valid, strict=True):
        assert (row["outcome"] == "invalid") == (cid is None)


# --- hand-made files: the cases a generator reaches rarely --------------------------------

def run_file(cli, sim, tmp_path, content: str | bytes, *args: str):
    path = tmp_path / "job.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    before = last_seq(sim)
    result = cli("run", path, "--yes", "--quiet", *args, env=sim_env(sim))
    check_no_traceback(result)
    return path, result, patches_since(sim, before)


@pytest.mark.parametrize(("content", "line", "fragment"), [
    # a quote never closed would have swallowed rows 2-4 into row 1's status cell
    ('conversation_id,status\n1,"closed\n2,open\n3,closed\n4,closed\n', 2, "never closed"),
    ('conversation_id,status\n1,closed\n2,"open"x\n3,closed\n', 3, "closing quote"),
    ("conversation_id,status,note\n1,closed,ok\n2,closed," + "y" * ((1 << 20) + 10) + "\n", 3,
     "a cell is over 1024 KB (a quote that never closes on this line, or a line"),
    ("conversation_id,status,note\n1,closed,\"ok\n" + "y\n" * ((1 << 19) + 10), 2,
     "a quote opened on this line does not close within 1024 KB"),
    ("\n\n  \nconversation_id,status,status\n1,closed,open\n", 4, "more than once"),
    ("conversation_id\x00,status\n1,closed\n", 1, "no 'conversation_id' column"),
])
def test_unreadable_files_are_refused_naming_the_line(tmp_path, sim, cli, content, line,
                                                      fragment):
    path, result, sent = run_file(cli, sim, tmp_path, content)
    assert result.code == 2 and f"{path}, line {line}" in result.err, result.err
    assert fragment in result.err
    assert sent == [] and not (tmp_path / "job.report.csv").exists()


@pytest.mark.parametrize("content", [
    "\ufeffconversation_id,status\n1,closed\n".encode("utf-16"),  # Excel's "Unicode text"
    b"conversation_id,status\n1,closed\n2,clos\xe9d\n",  # latin-1
])
def test_a_file_that_is_not_utf8_is_refused(tmp_path, sim, cli, content):
    path, result, sent = run_file(cli, sim, tmp_path, content)
    assert result.code == 2 and str(path) in result.err and "not UTF-8" in result.err
    assert sent == []


def test_blank_lines_before_the_header_are_not_rows_either(tmp_path, sim, cli):
    _path, result, sent = run_file(cli, sim, tmp_path,
                                   "\r\n \r\n;;\r\nconversation_id;status\r\n\r\n5;closed\r\n")
    assert result.code == 0, result.err
    assert [(r.conversation_id, r.body) for r in sent] == [(5, {"status": "closed"})]
    assert [r["row"] for r in read_report(tmp_path / "job.report.csv")] == ["1"]


def test_formula_cells_and_names_are_neutralised_and_nothing_else_changes(tmp_path, sim, cli):
    content = ('conversation_id,status,=cmd,note\n'
               '1,closed,"=cmd|\' /C calc\'!A0","+33 6, ok"\n'
               '@2,closed,-1,"\tx"\n'
               '3,closed,plain,"a\x00b"\n')
    _path, result, sent = run_file(cli, sim, tmp_path, content)
    assert result.code == 1 and [r.conversation_id for r in sent] == [1, 3]
    lines = raw_report(tmp_path / "job.report.csv")
    assert lines[0][-2:] == ["'=cmd", "note"]
    assert lines[1][-2:] == ["'=cmd|' /C calc'!A0", "'+33 6, ok"]
    assert lines[2][1] == "'@2" and lines[2][-2:] == ["'-1", "'\tx"]
    assert lines[3][-2:] == ["plain", "a\ufffdb"]


def test_a_100k_cell_and_10k_columns_are_carried_without_trouble(tmp_path, sim, cli):
    names = ",".join(f"c{i}" for i in range(10_000))
    cells = ",".join(str(i) for i in range(10_000))
    big = "z" * 100_000
    content = f"conversation_id,status,note,{names}\n7,closed,{big},{cells}\n"
    _path, result, sent = run_file(cli, sim, tmp_path, content)
    assert result.code == 0 and len(sent) == 1
    (line,) = raw_report(tmp_path / "job.report.csv")[1:]
    assert line[len(REPORT_COLUMNS)] == big and line[-1] == "9999"


def test_a_real_process_given_a_nasty_file_prints_no_traceback(tmp_path, sim):
    nasty = ("\ufeff\r\nconversation_id;status;note\r"
             '1;closed;"=1+1"\n١٢;open;x\r\n"3\x00";closed;"a\nb"\r\n\r\n'
             '"4";"closed";"' + "q" * 50_000 + '"\n'
             '5;"closed\n6;open\n')  # the quote opened on line 9 is never closed
    path = tmp_path / "nasty.csv"
    path.write_bytes(nasty.encode("utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    env.update(sim_env(sim))
    proc = subprocess.run([sys.executable, "-m", "worker", "run", str(path), "--yes"],
                          env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and f"{path}, line 9" in proc.stderr
    fixed = nasty.replace('5;"closed\n', "5;closed\n")
    path.write_bytes(fixed.encode("utf-8"))
    proc = subprocess.run([sys.executable, "-m", "worker", "run", str(path), "--yes"],
                          env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    rows = read_report(tmp_path / "nasty.report.csv")
    assert [r["outcome"] for r in rows] == ["ok", "invalid", "invalid", "ok", "ok", "ok"]


@READER
@given(job=job_texts(allow_broken=False), where=st.floats(0, 1), quote=st.sampled_from(
    ['"', '""', '"\n']))
def test_a_stray_quote_anywhere_is_refused_or_still_read_as_rows(job, where, quote, tmp_path):
    """Broken quoting has no single right reading; whatever is read, nothing crashes and
    the rows that come out are numbered 1..n, or the file is refused naming a line."""
    at = round(where * len(job.text))
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "job.csv"
    path.write_bytes((job.text[:at] + quote + job.text[at:]).encode("utf-8"))
    try:
        items = list(open_job(path).items())
    except JobFileError as exc:
        assert re.search(r", (near )?lines? \d+", str(exc)), str(exc)
        return
    assert [item.row for item in items] == list(range(1, len(items) + 1))
