"""R.ahead: rows finished ahead of the report, kept across a kill (unit level)."""

from __future__ import annotations

import asyncio

import pytest

from worker.core.columns import REPORT_COLUMNS
from worker.core.operations import Action, Operation
from worker.core.outcomes import Outcome, Result
from worker.report.ahead import keep_ahead, read_ahead
from worker.report.resume import carry_over

WIDTH = len(REPORT_COLUMNS)


def line(row: int, outcome: str, error: str = "") -> list[str]:
    return [str(row), str(row), "close", "", outcome, "200", "1", error, "5",
            "2026-11-25T00:00:00.000+00:00", "outage" if outcome == "failed" else ""]


def result(row: int, outcome: Outcome = Outcome.OK) -> Result:
    return Result(row=row, conversation_id=str(row), action="close", value="",
                  outcome=outcome, http_status=200, attempts=1, duration_ms=5,
                  finished_at="2026-11-25T00:00:00.000+00:00")


def ops(n: int) -> list[Operation]:
    return [Operation(row=i, conversation_id=i, action=Action.CLOSE) for i in range(1, n + 1)]


def test_a_row_finished_ahead_is_kept_and_wins_over_an_older_report_line():
    report = iter([line(1, "ok"), line(2, "failed", "500 (gave up)")])
    ahead = {2: line(2, "ok"), 4: line(4, "ok")}  # newer: the killed run sent 2 again
    items = list(carry_over(ops(5), report, retry_failed=True, ahead=ahead))
    kept = {i.row: i.line for i in items if isinstance(i, Result)}
    assert kept == {1: line(1, "ok"), 2: line(2, "ok"), 4: line(4, "ok")}
    assert [i.row for i in items if isinstance(i, Operation)] == [3, 5]


def test_a_failed_row_ahead_is_sent_again_with_retry_failed():
    items = list(carry_over(ops(2), iter([]), retry_failed=True,
                            ahead={2: line(2, "failed", "503")}))
    assert all(isinstance(i, Operation) for i in items)
    items = list(carry_over(ops(2), iter([]), retry_failed=False,
                            ahead={2: line(2, "failed", "503")}))
    assert isinstance(items[1], Result) and items[1].outcome is Outcome.FAILED


def test_read_ahead_ignores_what_is_not_a_report_line(tmp_path):
    path = tmp_path / "r.csv.ahead"
    assert read_ahead(path, WIDTH) == {}  # none left: the last run ended normally
    rows = [",".join(line(3, "ok")), "garbage", ",".join(line(4, "maybe")),
            ",".join(line(5, "ok")[:5]), ",".join(line(6, "skipped"))]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert sorted(read_ahead(path, WIDTH)) == [3, 6]
    path.write_bytes(b"\xff\xfe not utf-8")
    assert read_ahead(path, WIDTH) == {}


@pytest.mark.looptime
async def test_the_snapshot_follows_the_rows_waiting_and_goes_when_none_wait(tmp_path):
    path = tmp_path / "r.csv.ahead"
    waiting = [result(2), result(3, Outcome.SKIPPED), result(4, Outcome.FAILED)]
    task = asyncio.create_task(keep_ahead(path, lambda: list(waiting)))
    await asyncio.sleep(1.5)
    assert sorted(read_ahead(path, WIDTH)) == [2, 4]  # final outcomes only
    waiting[:] = [result(4, Outcome.FAILED), result(7)]
    await asyncio.sleep(1.0)
    assert sorted(read_ahead(path, WIDTH)) == [4, 7]
    waiting.clear()
    await asyncio.sleep(1.0)
    assert not path.exists()
    task.cancel()
