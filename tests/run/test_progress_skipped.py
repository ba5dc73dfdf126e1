"""A stopped run's progress is not drawn as done: skipped rows are counted apart."""

from __future__ import annotations

from worker.core.outcomes import Outcome, Result
from worker.run.progress import PlainProgress, RichProgress
from worker.run.summary import Summary


def _results(ok: int, skipped: int) -> list[Result]:
    return [Result(row=row, conversation_id=str(row), action="close", value="",
                   outcome=Outcome.OK if row <= ok else Outcome.SKIPPED,
                   attempts=1 if row <= ok else 0, error="" if row <= ok else "interrupted")
            for row in range(1, ok + skipped + 1)]


def test_the_bar_of_a_stopped_run_counts_skipped_rows_as_not_done():
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    summary = Summary()
    with RichProgress(8, summary, console=Console(file=out, width=120)) as progress:
        for result in _results(3, 5):
            summary.add(result)
            progress.add(result)
    text = out.getvalue()
    assert "3/8" in text and "8/8" not in text and "5 skipped" in text


def test_the_plain_line_counts_skipped_rows_as_not_done():
    from io import StringIO

    out, now = StringIO(), [0.0]
    summary = Summary()
    progress = PlainProgress(8, summary, every_s=1, stream=out, clock=lambda: now[0])
    for result in _results(3, 5):
        summary.add(result)
    now[0] = 5.0
    progress.add(_results(3, 0)[0])
    assert "progress: 3/8 rows (37.5%)" in out.getvalue() and "5 skipped" in out.getvalue()
    assert progress.fields(5.0)["rows_done"] == 3
