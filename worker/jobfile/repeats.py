"""The conversations a job touches more than once, counted in memory that does not grow
with the job: for `plan` and `run`'s confirmation.

Counting repeats needs every conversation id, which is 70-100 bytes each in a Python
set: +72 MB for a million distinct conversations (issue 23). So `Repeats` is fed each
valid row (`add`), keeps up to `spill_rows` of them in compact arrays, and past that
writes them out to `parts` files in a private temporary folder, each conversation to
the file of `id % parts`. A conversation's rows are then all in one file, in row order,
so `finish()` counts the files one at a time: its peak memory is one file's rows, about
1/`parts` of the job. A job under `spill_rows` rows is counted in memory as one part,
with the same code: the answers do not depend on the split (tests/jobfile/test_repeats.py).

What comes out (`Counted`): distinct conversations, those with more than one row, those
whose first row is guarded, and the first `shown` conversations to repeat (in the order
of their second row, as a reader going down the file meets them), each with its first
`1 + rows_shown` rows: the row, its action and its user id.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter
from dataclasses import dataclass, field
from operator import countOf
from pathlib import Path

from worker.files.scratch import Scratch

__all__ = ["Counted", "Repeats"]

_SPILL_ROWS = 1 << 16  # rows kept in memory before they go to disk (about 3 MB)
_PARTS = 64  # files on disk: a million rows are counted 16,000 at a time
_RECORD = 3  # array cells per row on disk: id, row, action * 2 + guarded


@dataclass
class Counted:
    conversations: int = 0
    repeated: int = 0
    guarded_first: int = 0
    # conversation -> its first rows, (row, action, value) each: the examples to show
    examples: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)


class Repeats:
    """Fed every valid row of a job in row order; `finish()` counts. Use as a context
    manager: the temporary folder, if one was needed, is removed on the way out."""

    def __init__(self, *, shown: int, rows_shown: int, spill_rows: int = _SPILL_ROWS,
                 parts: int = _PARTS) -> None:
        self._shown, self._touches = shown, 1 + rows_shown  # one more than shown means "…"
        self._spill_rows, self._parts = spill_rows, parts
        self._ids, self._rows, self._codes = array("q"), array("q"), array("b")
        self._values: list[str] = []
        self._folder: Path | None = None
        self._scratch: Scratch | None = None  # the folder's, removing stale ones first

    def __enter__(self) -> Repeats:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            self._scratch.remove()
            self._scratch, self._folder = None, None

    def add(self, cid: int, row: int, action: int, value: str, guarded: bool) -> None:
        """One valid row: its conversation, row number, action (a small int), user id."""
        self._ids.append(cid)
        self._rows.append(row)
        self._codes.append(action * 2 + guarded)
        self._values.append(value)
        if len(self._ids) >= self._spill_rows:
            self._spill()

    def finish(self) -> Counted:
        counted = Counted()
        if self._folder is None:  # small: one part, in memory
            _count(counted, self._ids, self._rows, self._codes, self._values, self._shown,
                   self._touches)
        else:
            self._spill()
            for part in range(self._parts):
                ids, rows, codes, values = self._load(part)
                _count(counted, ids, rows, codes, values, self._shown, self._touches)
        # Each part found its own first ones; the job's first are the earliest of those.
        firsts = sorted(counted.examples.items(), key=lambda item: item[1][1][0])
        counted.examples = dict(firsts[: self._shown])
        return counted

    def _spill(self) -> None:
        """The rows in memory, appended to their parts' files; memory is then empty."""
        if self._folder is None:
            self._scratch = Scratch("partoo-bulk-plan-")  # 0700
            self._folder = self._scratch.path
        parts = self._parts
        records = [array("q") for _ in range(parts)]
        values: list[list[str]] = [[] for _ in range(parts)]
        for cid, row, code, value in zip(self._ids, self._rows, self._codes, self._values,
                                         strict=True):
            part = cid % parts
            records[part].extend((cid, row, code))
            values[part].append(value)
        for part in range(parts):
            if not records[part]:
                continue
            with open(self._folder / f"{part}.bin", "ab") as f:
                records[part].tofile(f)
            # A user id holds no whitespace (`worker.core.operations`): one a line.
            with open(self._folder / f"{part}.txt", "a", encoding="utf-8",
                      newline="\n") as t:
                t.write("\n".join(values[part]) + "\n")
        self._ids, self._rows, self._codes = array("q"), array("q"), array("b")
        self._values = []

    def _load(self, part: int) -> tuple[array[int], array[int], array[int], list[str]]:
        assert self._folder is not None
        binary = self._folder / f"{part}.bin"
        if not binary.exists():
            return array("q"), array("q"), array("b"), []
        records = array("q")
        with open(binary, "rb") as f:
            records.frombytes(f.read())
        with open(self._folder / f"{part}.txt", encoding="utf-8", newline="\n") as t:
            values = t.read().split("\n")[:-1]
        os.unlink(binary)  # the disk too holds one part at a time from here
        return (records[0::_RECORD], records[1::_RECORD], array("b", records[2::_RECORD]),
                values)


def _count(counted: Counted, ids: array[int], rows: array[int], codes: array[int],
           values: list[str], shown: int, touches: int) -> None:
    """Add one part's counts (every row of its conversations, in row order)."""
    # Reversed, the last write of each id is its first row: its guard bit (C loops only).
    first = dict(zip(reversed(ids), reversed(codes), strict=True))
    counted.conversations += len(first)
    counted.guarded_first += sum(code & 1 for code in first.values())
    if len(first) == len(ids):
        return  # every conversation once
    counts = Counter(ids)
    counted.repeated += len(counts) - countOf(counts.values(), 1)
    firsts: dict[int, int] = {}  # conversation -> index of its first row
    found: dict[int, list[int]] = {}  # the part's first `shown` to repeat -> their rows
    for i, cid in enumerate(ids):
        if counts[cid] == 1:
            continue
        rows_of = found.get(cid)
        if rows_of is not None:
            if len(rows_of) < touches:
                rows_of.append(i)
        elif len(found) < shown:
            if cid in firsts:
                found[cid] = [firsts[cid], i]
            else:
                firsts[cid] = i
        elif all(len(r) >= touches for r in found.values()):
            break
    for cid, indexes in found.items():
        counted.examples[cid] = [(rows[i], codes[i] >> 1, values[i]) for i in indexes]
