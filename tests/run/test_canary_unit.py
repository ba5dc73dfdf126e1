"""`run --canary`, piece by piece and without a server: what goes in the first part and
what is held back, what a read-back decides for each row, and when the rest goes."""

from __future__ import annotations

import csv
import signal
from datetime import datetime, timedelta

import pytest

from helpers import ops, write_job
from worker.config import Settings
from worker.core.columns import REPORT_COLUMNS
from worker.core.exitcodes import ExitCode
from worker.core.operations import Action, Operation
from worker.core.outcomes import Outcome, Result
from worker.core.stops import Stop, StopReason
from worker.jobfile.pinned import JobSource
from worker.run import canary
from worker.run.request import RunRequest, RunResult
from worker.run.sink import hold_back
from worker.run.summary import Summary
from worker.run.verify import Difference, Findings, Unreadable


def result(row: int, outcome: Outcome = Outcome.OK, error: str = "") -> Result:
    return Result(row=row, conversation_id=str(row), action="close", value="",
                  outcome=outcome, error=error)


def read(*cids: int, **found) -> Findings:
    findings = Findings(**found)
    findings.read |= set(cids)
    return findings


# --- part 1: what goes, what is held back ----------------------------------------------

def test_the_first_n_rows_to_send_go_and_every_later_one_is_held_back_unsent():
    invalid = result(2, Outcome.INVALID, "bad id")
    items = [*ops(1), invalid, *(Operation(row=r, conversation_id=r, action=Action.CLOSE)
                                 for r in range(3, 7))]
    out = list(hold_back(items, 2))
    assert [type(i).__name__ for i in out] == ["Operation", "Result", "Operation", "Result",
                                               "Result", "Result"]
    assert out[1] is invalid  # an invalid row is reported, not counted among the N
    held = out[3:]
    assert [r.row for r in held] == [4, 5, 6]
    assert all(r.outcome is Outcome.SKIPPED and "held back by --canary" in r.error
               and "--resume" in r.error for r in held)


def test_no_canary_holds_nothing_back():
    items = ops(3)
    assert list(hold_back(items, 0)) == items


# --- the read-back: does each row hold? ------------------------------------------------

def test_a_row_holds_only_when_it_was_ok_and_reads_back_as_the_report_says():
    assert canary._not_holding(result(1), read(1)) is None
    assert canary._not_holding(result(1, Outcome.CHANGED, "guard"), Findings()) is None


@pytest.mark.parametrize(("row", "findings", "said"), [
    (result(1, Outcome.FAILED, "404: no such conversation"), Findings(),
     "row 1, conversation 1: failed: 404: no such conversation"),
    (result(1), read(1, differences=[Difference(1, 1, "status", "closed", "open")]),
     "row 1, conversation 1: reads back differently: row 1: status: expected closed, "
     "found open"),
    (result(1), read(1, unreadable=[Unreadable(1, "503 three times")]),
     "row 1, conversation 1: could not be read back: 503 three times"),
    (result(1), Findings(aborted="the API looks down"),
     "row 1, conversation 1: not read back (the API looks down)"),
    (result(1), Findings(), "row 1, conversation 1: not read back (the reads stopped)"),
], ids=["failed", "differs", "unreadable", "reads-aborted", "not-read"])
def test_a_row_that_does_not_hold_says_why(row, findings, said):
    assert canary._not_holding(row, findings) == said


def test_the_summary_of_a_read_back_counts_what_holds():
    sent = [result(1), result(2), result(3)]
    bad = ["row 2, conversation 2: failed: 404"]
    text = canary._describe(sent, bad, Findings(aborted="401"))
    assert text.splitlines() == [
        "canary: 3 rows sent, read back: 2 hold, 1 do not (reading back stopped: 401)",
        "  row 2, conversation 2: failed: 404"]
    assert canary._fields(sent, bad) == {"rows_sent": 3, "rows_holding": 2,
                                         "not_holding": bad}


# --- deciding: --yes goes on only if every row holds; nobody to ask is a no -------------

def request(tmp_path, **kw) -> RunRequest:
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 5)])
    # A base URL nothing listens on: any request a test did not expect fails it.
    settings = Settings(api_key="k", base_url="http://127.0.0.1:9/v2")
    return RunRequest(job=JobSource(job), settings=settings,
                      report=tmp_path / "job.report.csv", canary=2,
                      resume_hint="partoo-bulk run job.csv --resume", **kw)


def a_report(folder, **cells: str) -> None:
    """A report of one row, conversation 1 closed, its cells as given."""
    line = {"row": "1", "conversation_id": "1", "action": "close", "value": "",
            **cells}
    with open(folder / "job.report.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(REPORT_COLUMNS)
        writer.writerow([line.get(column, "") for column in REPORT_COLUMNS])


@pytest.mark.parametrize(("bad", "go"), [([], True), (["row 1: failed"], False)])
def test_with_yes_the_rest_goes_only_if_every_row_holds(tmp_path, bad, go):
    req = request(tmp_path, yes=True)
    assert canary._go_ahead(req, "text", canary._fields([result(1)], bad), 2) is go


def test_without_yes_and_no_terminal_to_ask_the_rest_does_not_go(tmp_path):
    req = request(tmp_path)  # under pytest, neither stdin nor stderr is a terminal
    assert canary._go_ahead(req, "text", canary._fields([result(1)], []), 2) is False


def test_no_read_back_starts_once_the_window_has_closed(tmp_path):
    req = request(tmp_path, finish_by=(datetime.now() - timedelta(seconds=1)).astimezone())
    a_report(tmp_path, outcome="ok", http_status="200")
    findings = canary._read_back(req, [result(1)])
    assert findings.stop is not None and findings.stop.reason is StopReason.WINDOW
    assert "before its rows were read back" in findings.stop.detail
    assert not findings.read


def test_nothing_sent_ok_means_nothing_to_read_back(tmp_path):
    req = request(tmp_path)
    a_report(tmp_path, outcome="failed", http_status="404", error="gone")
    assert canary._read_back(req, [result(1, Outcome.FAILED, "gone")]) == Findings()


# --- the whole decision, with the parts stood in for -----------------------------------

class Parts:
    """Stands in for the two runs and the read-back: records what was asked of them."""

    def __init__(self, first: RunResult, findings: Findings) -> None:
        self.first, self.findings = first, findings
        self.runs: list[RunRequest] = []

    def run(self, req: RunRequest) -> RunResult:
        self.runs.append(req)
        return self.first if len(self.runs) == 1 else RunResult(ExitCode.OK, Summary(), 1.0)

    def read_back(self, req: RunRequest, sent: list[Result]) -> Findings:
        return self.findings


def first_part(held_back: int, stop: Stop | None = None) -> RunResult:
    summary = Summary()
    summary.outcomes[Outcome.OK] = 2
    summary.outcomes[Outcome.SKIPPED] = held_back
    return RunResult(ExitCode.OK, summary, 1.0, stop, [result(1), result(2)])


@pytest.fixture
def parts(monkeypatch):
    def make(first: RunResult, findings: Findings) -> Parts:
        stand_in = Parts(first, findings)
        monkeypatch.setattr(canary, "run", stand_in.run)
        monkeypatch.setattr(canary, "_read_back", stand_in.read_back)
        monkeypatch.setattr(canary.runmeta, "record_stop", lambda report, stop: None)
        return stand_in
    return make


def decide(req: RunRequest) -> RunResult:
    return canary._run_with_canary(req, canary.Interrupting())


def test_when_every_row_holds_the_rest_is_sent_as_a_resume_of_the_same_report(tmp_path,
                                                                               parts):
    stand_in = parts(first_part(held_back=2), read(1, 2))
    outcome = decide(request(tmp_path, yes=True))
    assert outcome.exit_code == ExitCode.OK
    rest = stand_in.runs[1]
    assert rest.resume and rest.canary == 0 and rest.yes and not rest.overwrite
    assert rest.earlier is stand_in.first  # its figures count the canary's


def test_a_row_that_does_not_hold_stops_the_run_before_the_rest_exit_1(tmp_path, parts,
                                                                       capsys):
    stand_in = parts(first_part(held_back=2),
                     read(1, 2, differences=[Difference(2, 2, "status", "closed", "open")]))
    outcome = decide(request(tmp_path, yes=True))
    assert len(stand_in.runs) == 1  # the rest was not sent
    assert outcome.exit_code == ExitCode.FAILED
    assert outcome.stop == Stop(StopReason.CANARY, "canary: 1 of 2 canary rows do not hold")
    assert "the other 2 rows were not sent" in capsys.readouterr().err


def test_a_window_closed_at_the_read_back_stops_the_run_exit_3(tmp_path, parts, capsys):
    closed = Stop(StopReason.WINDOW, "the window closed at 03:00 (--finish-by) while its "
                  "rows were read back")
    stand_in = parts(first_part(held_back=2), Findings(aborted=closed.detail, stop=closed))
    outcome = decide(request(tmp_path, yes=True))
    assert len(stand_in.runs) == 1
    assert outcome.exit_code == ExitCode.ABORTED
    assert outcome.stop is not None and outcome.stop.reason is StopReason.WINDOW
    assert "To send them: partoo-bulk run job.csv --resume" in capsys.readouterr().err


def test_a_canary_as_big_as_the_job_sends_nothing_more(tmp_path, parts):
    stand_in = parts(first_part(held_back=0), read(1, 2))
    outcome = decide(request(tmp_path, yes=True))
    assert len(stand_in.runs) == 1 and outcome.exit_code == ExitCode.OK
    assert outcome.stop is None


def test_a_first_part_that_stopped_is_the_answer(tmp_path, parts):
    stopped = first_part(held_back=2, stop=Stop(StopReason.UNAUTHORIZED, "401"))
    stand_in = parts(stopped, read(1, 2))
    assert decide(request(tmp_path, yes=True)) is stopped
    assert len(stand_in.runs) == 1


def test_a_stop_signal_at_the_read_back_stops_before_the_rest_exit_130(tmp_path, parts,
                                                                       monkeypatch):
    stand_in = parts(first_part(held_back=2), read(1, 2))

    def interrupted(req, sent):
        raise KeyboardInterrupt  # as asyncio.run raises it once a signal cancelled it

    monkeypatch.setattr(canary, "_read_back", interrupted)
    caught = canary.Interrupting()
    caught.came = signal.SIGTERM
    outcome = canary._run_with_canary(request(tmp_path, yes=True), caught)
    assert len(stand_in.runs) == 1
    assert outcome.exit_code == ExitCode.INTERRUPTED
    assert outcome.stop == Stop(StopReason.INTERRUPTED,
                                "run interrupted (SIGTERM) after the canary was sent")
