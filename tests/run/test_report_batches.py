"""The report is handed to the OS once per turn of the event loop, not once per line:
what a kill -9 can lose is only what finished in the turn it struck."""

from __future__ import annotations

import asyncio

from worker.core.outcomes import Outcome, Result
from worker.report.writer import ReportWriter
from worker.run.progress import NullProgress
from worker.run.sink import ReportSink
from worker.run.summary import Summary
from worker.sending.control import RunControl


def lines_on_disk(path) -> int:
    with open(path, encoding="utf-8") as f:  # another file object: what the OS has
        return f.read().count("\n")


def result(row: int) -> Result:
    return Result(row=row, conversation_id=str(row), action="close", value="",
                  outcome=Outcome.OK, http_status=200, attempts=1)


async def test_lines_reach_the_os_in_one_batch_before_the_loop_waits_again(tmp_path):
    path = tmp_path / "r.csv"
    with ReportWriter(path, ()) as writer:
        sink = ReportSink(writer, Summary(), NullProgress(), RunControl())
        for row in range(1, 51):  # fifty replies handled in one turn of the loop
            sink(result(row))
        assert lines_on_disk(path) == 1  # the header: no write per line
        await asyncio.sleep(0)  # the loop's next turn
        assert lines_on_disk(path) == 51
        sink(result(51))
        await asyncio.sleep(0)
        assert lines_on_disk(path) == 52
    assert lines_on_disk(path) == 52


async def test_a_flush_that_fails_stops_the_run_and_is_kept(tmp_path):
    path = tmp_path / "r.csv"
    control = RunControl()
    with ReportWriter(path, ()) as writer:
        sink = ReportSink(writer, Summary(), NullProgress(), control)

        def full() -> None:
            raise OSError(28, "No space left on device")

        writer.flush = full  # type: ignore[method-assign]
        sink(result(1))
        await asyncio.sleep(0)
        assert sink.error is not None and sink.error.errno == 28
        assert control.stopping
