"""Progress off a terminal (cron, CI): a plain line every few seconds, on stderr."""

from __future__ import annotations

import io

from worker.core.outcomes import Outcome, Result
from worker.run.progress import PlainProgress, RichProgress, make_progress
from worker.run.summary import Summary


def test_plain_progress_prints_a_line_every_interval_with_counts_rate_and_eta():
    now = [0.0]
    out = io.StringIO()
    summary = Summary()
    progress = PlainProgress(100, summary, every_s=10, stream=out, clock=lambda: now[0])
    for row in range(1, 51):
        now[0] = row * 0.5  # two rows a second
        result = Result(row=row, conversation_id=str(row), action="close", value="",
                        outcome=Outcome.FAILED if row % 10 == 0 else Outcome.OK, attempts=1)
        summary.add(result)
        progress.add(result)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # at 10 s and 20 s
    assert lines[-1].startswith("progress: 40/100 rows (40.0%), 36 ok, 4 failed, 0 invalid")
    assert "120 req/min" in lines[-1] and "ETA 0m30s" in lines[-1]


def test_quiet_means_no_progress_at_all(capsys):
    progress = make_progress(10, Summary(), quiet=True)
    with progress:
        for row in range(1, 11):
            progress.add(Result(row=row, conversation_id="1", action="close", value="",
                                outcome=Outcome.OK))
    assert capsys.readouterr() == ("", "")


def test_off_a_terminal_progress_is_the_plain_kind(capsys):
    assert isinstance(make_progress(10, Summary(), quiet=False), PlainProgress)


def test_on_a_terminal_the_bar_shows_rows_and_counts(capsys):
    """The rich bar (what a terminal gets); off a terminal, rich prints its last frame."""
    summary = Summary()
    with RichProgress(10, summary) as progress:
        for row in range(1, 11):
            result = Result(row=row, conversation_id=str(row), action="close", value="",
                            outcome=Outcome.FAILED if row == 3 else Outcome.OK, attempts=1)
            summary.add(result)
            progress.add(result)
    err = capsys.readouterr().err
    assert "partoo-bulk" in err and "10/10" in err
    assert "9 ok" in err and "1 failed" in err


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_progress_line_says_when_the_concurrency_cap_held_requests_back():
    from worker.sending.concurrency import Concurrency

    clock = _Clock()
    gate = Concurrency(4, clock=clock)
    out = io.StringIO()
    summary = Summary()
    progress = PlainProgress(100, summary, every_s=10, stream=out, clock=clock,
                             concurrency=gate)

    def row(n: int) -> None:
        result = Result(row=n, conversation_id=str(n), action="close", value="",
                        outcome=Outcome.OK, attempts=1)
        summary.add(result)
        progress.add(result)

    clock.now = 10.0
    row(1)  # the first 10 s: never more than 3 requests out
    for _ in range(4):
        gate.busy()  # from 12 s to 18 s every one of the 4 rows is busy: the cap holds
    clock.now = 12.0
    gate.ready()
    gate.busy()
    clock.now = 18.0
    gate.ready()
    clock.now = 20.0
    row(2)
    clock.now = 30.0
    row(3)  # and no more in the third interval
    first, second, third = out.getvalue().splitlines()
    assert "concurrency" not in first and "concurrency" not in third
    assert second.endswith("| concurrency 4 reached: raise --concurrency")


def test_at_a_thousand_rows_a_second_the_rate_is_right_though_rows_are_counted_in_bulk():
    now = [0.0]
    out = io.StringIO()
    summary = Summary()
    progress = PlainProgress(30_000, summary, every_s=10, stream=out, clock=lambda: now[0])
    for row in range(1, 25_001):
        now[0] = row * 0.001
        result = Result(row=row, conversation_id=str(row), action="close", value="",
                        outcome=Outcome.OK, attempts=1)
        summary.add(result)
        progress.add(result)
    first, second = out.getvalue().splitlines()
    done = [int(line.split()[1].split("/")[0]) for line in (first, second)]
    assert 10_000 <= done[0] <= 10_200 and 20_000 <= done[1] <= 20_400  # 10 s apart
    assert "60000 req/min" in second
