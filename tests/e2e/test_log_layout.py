"""Log lines stay whole and in order (issue 31 item 16): Unicode's line breaks (U+2028,
U+2029, NEL) and bidi controls (U+202E...) from a server or a job are escaped in text
and JSON logs, as `\\u2028`; a JSON value reads back unchanged."""

from __future__ import annotations

import contextlib
import json
import logging

from helpers import run_refused_with
from worker import logs

HOSTILE = "bad\u2028WARNING forged line\u202edesrever\u2066\u2069\u200f\u0085end"
RAW = "\u2028\u2029\u202e\u2066\u2069\u200f\u0085"


@contextlib.contextmanager
def cli_logs(fmt: str):
    """The CLI's logging, as `fmt`, on the stderr of this moment (the test's capture)."""
    with logs.cli_logging():
        logs.setup_logging(verbose=True, fmt=fmt, secret=None)
        yield
    logs.start()


def test_an_event_is_one_line_as_text(capsys):
    with cli_logs("text"):
        logs.event("x", f"partoo-bulk: {HOSTILE}\nsecond line")
    err = capsys.readouterr().err
    assert not any(char in err for char in RAW)
    assert err == ("partoo-bulk: bad\\u2028WARNING forged line\\u202edesrever\\u2066\\u2069"
                   "\\u200f\\u0085end\nsecond line\n")  # our own newline stays one


def test_a_request_line_and_any_other_record_are_escaped_too(capsys):
    with cli_logs("text"):
        logging.getLogger("partoo_bulk.config").warning("ours %s", HOSTILE)
        logs.REQUEST_LOG.warning("GET /conversations/1 %s", HOSTILE)
    err = capsys.readouterr().err
    assert not any(char in err for char in RAW)
    assert err.count("\n") == 2 and "ours bad\\u2028WARNING" in err


def test_a_json_line_escapes_them_and_reads_back_the_same(capsys):
    with cli_logs("json"):
        logs.event("x", HOSTILE, cell=HOSTILE)
        logs.REQUEST_LOG.warning("GET %s", HOSTILE)
    err = capsys.readouterr().err
    assert not any(char in err for char in RAW)
    event, request = (json.loads(line) for line in err.splitlines())
    assert event["message"] == event["cell"] == HOSTILE
    assert request["message"] == f"GET {HOSTILE}"


def test_a_servers_reason_reaches_the_terminal_escaped(tmp_path, cli):
    result = run_refused_with(tmp_path, cli, HOSTILE)
    assert result.code == 1, result.err
    assert "\\u202edesrever" in result.err
    assert not any(char in result.err for char in RAW)
