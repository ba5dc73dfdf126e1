"""The leading kept lines of an earlier report, copied as bytes: a resume of a big report.

`ReportLines.prefix()` is the rule for which leading lines a resume trusts, and
`worker.report.resume.KeptPrefix` which of those it keeps as they are (ok or invalid,
none finished ahead). Read and written again line by line through the csv module, the
kept half of a million-row report cost most of a resume's time before its first request.

Most report lines are *plain*: no quote, no NUL, the one line ending, UTF-8, well under
the csv field limit. The csv module reads a plain line as its text split at the
delimiter, and writes those cells back as the same bytes (nothing in them needs
quoting). So `copy_plain_kept` reads the old report in blocks, checks each block's lines
with C loops (the same checks as the rule: the width, the next row number, the outcome),
and hands the bytes of the leading plain kept lines to `write` as they are. It stops at
the first line that is not plain or not kept, and says where (`Copied.resume_at`):
`prefix()` takes over from there, line by line, as before. Only when the old report's
header line is byte for byte the one the new report starts with: the same columns, the
same delimiter, line ending and BOM, whatever the dialect (read from the header, never
assumed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from worker.core.cells import FIELD_LIMIT
from worker.core.columns import REPORT_COLUMNS, Col

__all__ = ["Copied", "copy_plain_kept"]

_BLOCK = 1 << 20
_BOM = "\ufeff".encode()
_ROW, _OUTCOME = itemgetter(Col.ROW), itemgetter(Col.OUTCOME)


@dataclass
class Copied:
    rows: int = 0  # rows 1..rows were copied
    outcomes: Counter[str] = field(default_factory=Counter)  # of those rows, by value
    resume_at: int | None = None  # the byte offset of the next line; None: nothing copied


def copy_plain_kept(old: Path, header: bytes, width: int, keep: Collection[str],
                    ahead: Collection[int], write: Callable[[bytes, int], None]) -> Copied:
    """Copy the old report's leading plain kept lines to `write(data, lines)`.

    `header`: the new report's header line as written. OSError from `write` propagates."""
    copied = Copied()
    with open(old, "rb") as f:
        first = f.readline()
        dialect = _dialect(first)
        if first != header or dialect is None:
            return copied
        delimiter, ending = dialect
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


def _dialect(header: bytes) -> tuple[str, str] | None:
    """(delimiter, line ending) of a report's header line; None if it is not plain."""
    text = header.removeprefix(_BOM)
    name = REPORT_COLUMNS[0].encode()
    if b'"' in text or not text.startswith(name) or len(text) <= len(name):
        return None
    delimiter = chr(text[len(name)])
    ending = "\r\n" if text.endswith(b"\r\n") else "\n" if text.endswith(b"\n") else None
    if ending is None or delimiter in "\r\n" or not delimiter.isascii():
        return None
    return delimiter, ending


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
