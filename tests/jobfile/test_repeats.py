"""Repeated conversations, counted in flat memory: the same answers whether the rows stay
in memory or go to disk in parts, and the same as counting with a set of every id."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import worker.jobfile.plan as plan_module
from helpers import write_job
from worker.jobfile.plan import make_plan
from worker.jobfile.reader import open_job
from worker.jobfile.repeats import Counted, Repeats
from worker.simulator import ALICE, BOB

SHOWN, ROWS_SHOWN = 3, 4
Row = tuple[int, int, int, str, bool]  # conversation, row, action, value, guarded


def by_a_set(rows: list[Row]) -> Counted:
    """The rule, the plain way: a set of every id, examples as a reader meets them."""
    counted, seen, firsts = Counted(), set(), {}
    repeated: set[int] = set()
    for cid, row, action, value, guarded in rows:
        touch = (row, action, value)
        if cid not in seen:
            seen.add(cid)
            firsts[cid] = touch
            counted.guarded_first += guarded
            continue
        if cid not in repeated:
            repeated.add(cid)
            if len(counted.examples) < SHOWN:
                counted.examples[cid] = [firsts[cid]]
        touches = counted.examples.get(cid)
        if touches is not None and len(touches) < 1 + ROWS_SHOWN:
            touches.append(touch)
    counted.conversations, counted.repeated = len(seen), len(repeated)
    return counted


def count(rows: list[Row], **split: int) -> Counted:
    with Repeats(shown=SHOWN, rows_shown=ROWS_SHOWN, **split) as repeats:
        for row in rows:
            repeats.add(*row)
        return repeats.finish()


def job_rows(draw_ids: list[int], actions: list[int], guards: list[bool]) -> list[Row]:
    return [(cid, i + 1, action, f"u{cid}" if action == 2 else "", guarded)
            for i, (cid, action, guarded) in enumerate(zip(draw_ids, actions, guards,
                                                            strict=False))]


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.integers(1, 40) | st.integers(1, 2**63 - 1), max_size=120),
       actions=st.lists(st.integers(0, 3), min_size=120, max_size=120),
       guards=st.lists(st.booleans(), min_size=120, max_size=120),
       spill=st.integers(1, 20), parts=st.integers(1, 7))
def test_on_disk_in_parts_or_in_memory_the_counts_and_examples_are_the_same(
        ids, actions, guards, spill, parts):
    rows = job_rows(ids, actions, guards)
    expected = by_a_set(rows)
    assert count(rows) == expected
    assert count(rows, spill_rows=spill, parts=parts) == expected


def test_the_examples_are_the_first_to_repeat_in_file_order_across_parts():
    # 10 repeats first at row 3 (part 0 of 2), 7 at row 4 (part 1), 4 at row 6 (part 0),
    # 9 at row 7 (part 1): the first three, in the order of their second row.
    ids = [10, 7, 10, 7, 4, 4, 9, 9, 10, 10, 10, 10, 10]
    rows = job_rows(ids, [0] * len(ids), [False] * len(ids))
    counted = count(rows, spill_rows=2, parts=2)
    assert list(counted.examples) == [10, 7, 4]
    assert [t[0] for t in counted.examples[10]] == [1, 3, 9, 10, 11]  # 1 + 4, then "…"
    assert counted == by_a_set(rows)


def test_the_temporary_folder_is_gone_afterwards_even_on_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rows = job_rows(list(range(1, 50)), [0] * 49, [True] * 49)
    assert count(rows, spill_rows=5, parts=3).conversations == 49
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), Repeats(shown=3, rows_shown=4, spill_rows=5) as r:
        for row in rows:
            r.add(*row)
        assert len(list(tmp_path.iterdir())) == 1  # the rows went to disk
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("split", [{}, {"spill_rows": 3, "parts": 4}])
def test_plan_reports_repeats_alike_whichever_way_it_counts(tmp_path, monkeypatch, split):
    monkeypatch.setattr(plan_module, "Repeats", functools.partial(Repeats, **split))
    rows = [("5", "closed", ""), ("6", "", ALICE), ("bad", "closed", ""), ("5", "", BOB),
            ("7", "open", ""), ("6", "", "unassigned"), ("5", "open", ""),
            ("8", "closed", ""), ("5", "closed", ""), ("5", "", ALICE), ("5", "open", ""),
            ("7", "closed", ""), ("9", "", ALICE)]
    plan = make_plan(open_job(write_job(Path(tmp_path) / "job.csv", rows)))
    assert (plan.rows, plan.invalid, plan.conversations, plan.repeated) == (13, 1, 5, 3)
    assert {cid: [str(t) for t in touches]
            for cid, touches in plan.repeated_examples.items()} == {
        5: ["row 1 close", f"row 4 assign {BOB}", "row 7 open", "row 9 close",
            f"row 10 assign {ALICE}"],
        6: [f"row 2 assign {ALICE}", "row 6 unassign"],
        7: ["row 5 open", "row 12 close"]}
    text = plan.describe(300)
    assert "3 conversations touched by more than one row" in text
    assert f"conversation 5: row 1 close, row 4 assign {BOB}, row 7 open, row 9 close, …" \
        in text
