"""Crash-safe bookkeeping for a report: what `--resume` needs, and nothing else.

Files, for a report R:
- `R`: the report. Append-only, in row order, flushed per line.
- `R.meta.json`: which job the report belongs to (`worker.report.meta`).
- `R.partial`: the new report while a resumed run writes it; it replaces R at the end.

On resume, rows whose outcome in R is final (ok, failed, invalid; or ok and invalid with
`--retry-failed`) are copied, not sent; the others are sent again. If a resumed run was
itself killed, R.partial (a complete prefix, rows 1..k) and R (rows after k) are first
consolidated into R. A half-written last line, the mark of a kill, is dropped.

A report stays in one CSV dialect (`worker.files.csvdialect`) for its whole life: a
resumed run writes R.partial in R's (`dialect_of`), whatever `--csv-dialect` says, and
consolidating keeps R.partial's, which is R's.

The leading kept lines of a big report are copied as bytes (`copy_plain_kept`): read and
written again line by line through the csv module, the kept half of a million-row report
cost most of a resume's time before its first request. Most report lines are *plain*: no
quote, no NUL, the one line ending, UTF-8, well under the csv field limit. The csv
module reads a plain line as its text split at the delimiter, and writes those cells
back as the same bytes (nothing in them needs quoting). So `copy_plain_kept` reads the
old report in blocks, checks each block's lines with C loops (the same checks as the
rule: the width, the next row number, the outcome), and hands the bytes of the leading
plain kept lines to `write` as they are. It stops at the first line that is not plain or
not kept, and says where (`Copied.resume_at`): `prefix()` takes over from there, line by
line, as before. Only when the old report's header line is byte for byte the one the new
report starts with: the same columns, the same delimiter, line ending and BOM, whatever
the dialect (the header bytes decide; the delimiter is the new report's own dialect,
`worker.files.csvdialect`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from worker.core.cells import FIELD_LIMIT
from worker.core.columns import REPORT_COLUMNS, Col
from worker.core.errors import ReportError
from worker.core.operations import Operation
from worker.core.outcomes import FINAL_OUTCOMES, Fault, Outcome, Result
from worker.files.atomic import atomic_write
from worker.files.csvdialect import CsvDialect
from worker.files.runfiles import RunFiles
from worker.report.lines import ReportLines, open_lines
from worker.report.reader import LastOkRows, ReportRow
from worker.report.writer import ReportWriter

__all__ = [
    "KeptPrefix",
    "carry_over",
    "consolidate",
    "count_kept",
    "dialect_of",
    "last_ok_rows",
    "records",
]


def records(path: Path, width: int) -> Iterator[list[str]]:
    """The lines of an earlier report that a resume trusts (`ReportLines.prefix`)."""
    lines = _report_lines(path, width)
    return iter(()) if lines is None else lines.prefix()


def _report_lines(path: Path, width: int) -> ReportLines | None:
    """The earlier report, its header checked; None when it has none."""
    if path.stat().st_size == 0:
        return None  # killed before its header reached the disk
    lines = open_lines(path)
    if lines.width != width or tuple(lines.header[: len(REPORT_COLUMNS)]) != REPORT_COLUMNS:
        raise ReportError(f"{path}: not a report of this job (its header differs): "
                          "pass --overwrite to start again")
    return lines


def consolidate(report: Path, width: int) -> None:
    """After a resumed run was killed: R.partial (rows 1..k) + R (rows > k) -> R."""
    files = RunFiles(report)
    partial = files.partial
    if not partial.exists():
        return
    if partial.stat().st_size == 0:
        partial.unlink()  # killed before its header reached the disk: R is as it was
        return
    head = open_lines(partial)  # R's dialect, in which the resumed run wrote it
    try:
        with atomic_write(report, tmp=files.report_tmp) as out:
            head.dialect.start(out)
            writer = head.dialect.writer(out)
            writer.writerow(head.header)
            last = 0
            for line in records(partial, width):
                writer.writerow(line)
                last = int(line[Col.ROW])
            if report.exists():
                for line in records(report, width):
                    if int(line[Col.ROW]) > last:
                        writer.writerow(line)
    except OSError as exc:
        raise ReportError(f"{report}: cannot bring {partial.name} and the report together "
                          f"({exc.strerror}); both are kept as they were. Free space, then "
                          "resume again") from None
    partial.unlink()


def dialect_of(report: Path) -> CsvDialect | None:
    """The CSV dialect an earlier report is written in, for a resume to write on in it;
    None when there is none yet (no report, or killed before its header was written).
    Call after `consolidate`."""
    if not report.exists() or report.stat().st_size == 0:
        return None
    return open_lines(report).dialect


class KeptPrefix:
    """The leading lines of an earlier report that a resume keeps as they are: rows
    1..k, each ok or invalid (kept by any resume), none finished ahead. `write_to` copies
    them into the new report before the engine starts; `rest()` is the old report after
    them, for `carry_over`, and the job's first `rows` rows need not be parsed
    (`Job.items(skip=rows)`). So a report killed at 50% is read once, and its kept half
    is copied as bytes where its lines are plain (`copy_plain_kept`), else a CSV
    read and write per line, not a row's trip through the engine (bench/resume.py)."""

    def __init__(self, report: Path, width: int, *, ahead: dict[int, list[str]]) -> None:
        # The header is checked now, before anything is sent (`ReportError`).
        self._report = _report_lines(report, width) if report.exists() else None
        self._old: Iterator[list[str]] = iter(())
        # ok and invalid only: a kept failed row says what failed it (its fault, which
        # the summary counts), so it takes `carry_over`'s way, as a `Result`.
        self._keep = {o.value: o for o in (Outcome.OK, Outcome.INVALID)}
        self._ahead = ahead
        self._stopped_at: list[str] | None = None
        self.rows = 0
        self.outcomes: Counter[Outcome] = Counter()

    def write_to(self, writer: ReportWriter) -> None:
        """The kept lines, into the new report. OSError (disk full) propagates."""
        if self._report is None:
            return
        copied = copy_plain_kept(self._report.path, writer.header_line(),
                                 writer.dialect.delimiter, self._report.width, self._keep,
                                 self._ahead, writer.write_bytes)
        self.rows = copied.rows
        for value, count in copied.outcomes.items():
            self.outcomes[self._keep[value]] += count
        start = None if copied.resume_at is None else (copied.resume_at, copied.rows + 1)
        self._old = self._report.prefix(start)
        writer.write_lines(self._lines())

    def _lines(self) -> Iterator[list[str]]:
        keep, ahead, outcomes = self._keep, self._ahead, self.outcomes
        for line in self._old:  # rows 1, 2, 3... in sequence (`ReportLines.prefix`)
            outcome = keep.get(line[Col.OUTCOME])
            if outcome is None or self.rows + 1 in ahead:
                self._stopped_at = line
                return
            outcomes[outcome] += 1
            self.rows += 1
            yield line

    def rest(self) -> Iterator[list[str]]:
        if self._stopped_at is not None:
            yield self._stopped_at
        yield from self._old


def carry_over(items: Iterable[Operation | Result], old: Iterator[list[str]], *,
               retry_failed: bool,
               last_ok: LastOkRows | None = None,
               ahead: dict[int, list[str]] | None = None,
               ) -> Iterator[Operation | Result]:
    """Job items, with rows already final in the old report replaced by their old line.

    `ahead` (row -> line, from `worker.report.ahead`): rows the killed run had finished but not
    yet written; newer than the report's line for the same row, so they win.
    With `retry_failed`, a failed row is sent again unless a later row set the same field
    of the same conversation *with success* (`last_ok`, from `last_ok_rows`): the server
    holds that later change, and sending the earlier row now would undo it. A later row
    that failed too supersedes nothing: the field still holds neither.
    """
    keep = FINAL_OUTCOMES - ({Outcome.FAILED} if retry_failed else set())
    ahead = ahead or {}
    line = next(old, None)
    for item in items:
        found = None
        if line is not None and int(line[Col.ROW]) == item.row:
            found = line
            line = next(old, None)
        found = ahead.get(item.row, found)
        if found is None:
            yield item
            continue
        outcome = Outcome(found[Col.OUTCOME])
        superseded = (outcome is Outcome.FAILED and isinstance(item, Operation)
                      and last_ok is not None
                      and last_ok.superseded((item.conversation_id, item.action.field),
                                             item.row))
        if outcome in keep or superseded:
            yield Result(row=item.row, conversation_id=found[Col.CONVERSATION_ID],
                         action=found[Col.ACTION], value=found[Col.VALUE], outcome=outcome,
                         fault=Fault.of(found[Col.FAULT]), line=found)
        else:
            yield item


def count_kept(report: Path, width: int, *, retry_failed: bool) -> tuple[int, int]:
    """(rows a resume keeps, of them rows that were sent): for the confirmation prompt;
    (0, 0) without a report. Consolidates it first (`consolidate`). Failed rows that
    `--retry-failed` would keep (superseded by a later row) are counted as sent again:
    the prompt says "up to"."""
    consolidate(report, width)
    if not report.exists():
        return 0, 0
    keep = FINAL_OUTCOMES - ({Outcome.FAILED} if retry_failed else set())
    kept = sent = 0
    for line in records(report, width):
        if line[Col.OUTCOME] in keep:
            kept += 1
            sent += line[Col.OUTCOME] != Outcome.INVALID
    return kept, sent


def last_ok_rows(report: Path, width: int, ahead: dict[int, list[str]]) -> LastOkRows:
    """Per conversation and field, its last ok row: the report's lines in row order, each
    replaced by the line ahead for the same row if there is one (it is newer). One pass,
    for `--retry-failed` only: an entry per conversation and field set with success."""
    tracker = LastOkRows()
    pending = sorted(ahead)  # rows only ahead, merged in at their place
    i = 0
    for line in records(report, width) if report.exists() else iter(()):
        row = int(line[Col.ROW])
        while i < len(pending) and pending[i] <= row:
            if pending[i] < row:
                tracker.add(ReportRow.of(ahead[pending[i]]))
            i += 1
        tracker.add(ReportRow.of(ahead.get(row, line)))
    for row in pending[i:]:
        tracker.add(ReportRow.of(ahead[row]))
    return tracker


# The byte copy of the leading plain kept lines (see the module docstring).

_BLOCK = 1 << 20
_ROW, _OUTCOME = itemgetter(Col.ROW), itemgetter(Col.OUTCOME)


@dataclass
class Copied:
    rows: int = 0  # rows 1..rows were copied
    outcomes: Counter[str] = field(default_factory=Counter)  # of those rows, by value
    resume_at: int | None = None  # the byte offset of the next line; None: nothing copied


def copy_plain_kept(old: Path, header: bytes, delimiter: str, width: int,
                    keep: Collection[str], ahead: Collection[int],
                    write: Callable[[bytes, int], None]) -> Copied:
    """Copy the old report's leading plain kept lines to `write(data, lines)`.

    `header`: the new report's header line as written, in the new report's dialect
    (`delimiter`: `worker.files.csvdialect` is its one owner). The old header must be
    the same bytes: then the old lines are in that dialect too. OSError from `write`
    propagates."""
    copied = Copied()
    with open(old, "rb") as f:
        first = f.readline()
        if first != header or b'"' in first or not first.endswith(b"\n"):
            return copied
        ending = "\r\n" if first.endswith(b"\r\n") else "\n"
        offset, pending = len(first), b""
        while chunk := f.read(_BLOCK):
            data = pending + chunk
            cut = data.rfind(b"\n") + 1
            if not cut:  # one line longer than a block: not plain
                break
            block, pending = data[:cut], data[cut:]
            lines, size = _plain_kept(block, delimiter, ending, width, keep, ahead,
                                      copied.rows + 1)
            if lines:
                write(block[:size], len(lines))
                copied.rows += len(lines)
                copied.outcomes.update(map(_OUTCOME, lines))
                offset += size
            if size < len(block):
                break
    copied.resume_at = offset
    return copied


def _plain_kept(block: bytes, delimiter: str, ending: str, width: int,
                keep: Collection[str], ahead: Collection[int],
                first_row: int) -> tuple[list[list[str]], int]:
    """The leading plain kept lines of `block` (whole lines), as cells, and their size in
    bytes."""
    for stop in (b'"', b"\x00"):  # not plain from the line that holds it on
        at = block.find(stop)
        if at >= 0:
            block = block[: block.rfind(b"\n", 0, at) + 1]
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = block[: block.rfind(b"\n", 0, exc.start) + 1].decode("utf-8")
    # One line ending, and no other CR or LF: the lines the csv module would see.
    if ending == "\r\n" and not text.count("\r") == text.count("\n") == text.count("\r\n"):
        return [], 0
    if ending == "\n" and "\r" in text:
        return [], 0
    raw = text.split(ending)
    raw.pop()  # after the last line ending
    lines = [line.split(delimiter) for line in raw]
    n = _leading_kept(lines, raw, width, keep, ahead, first_row)
    if n < len(lines):
        raw, lines = raw[:n], lines[:n]
    chars = sum(map(len, raw)) + n * len(ending)
    return lines, chars if text.isascii() else len(text[:chars].encode("utf-8"))


def _leading_kept(lines: list[list[str]], raw: list[str], width: int,
                  keep: Collection[str], ahead: Collection[int], first_row: int) -> int:
    """How many leading lines are whole, rows first_row, first_row + 1, ... in sequence,
    kept (their outcome in `keep`, none of them finished ahead) and within the csv
    field limit: each check one C loop over the block, and a Python loop only to find
    where the first one fails."""
    n = len(lines)
    widths = list(map(len, lines))
    if widths.count(width) != n:
        n = next(i for i, w in enumerate(widths) if w != width)
        lines, raw = lines[:n], raw[:n]
    rows = list(map(_ROW, lines))
    expected = list(map(str, range(first_row, first_row + n)))
    if rows != expected:
        n = next(i for i, (a, b) in enumerate(zip(rows, expected, strict=True)) if a != b)
        lines, raw = lines[:n], raw[:n]
    if not set(map(_OUTCOME, lines)) <= set(keep):
        n = next(i for i, line in enumerate(lines) if line[Col.OUTCOME] not in keep)
        raw = raw[:n]
    if raw and max(map(len, raw)) >= FIELD_LIMIT:
        n = next(i for i, line in enumerate(raw) if len(line) >= FIELD_LIMIT)
    early = [row - first_row for row in ahead if first_row <= row < first_row + n]
    return min(early, default=n)
