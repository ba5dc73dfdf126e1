"""A report's lines: the one reader, with the one rule for a line cut short by a kill.

A report is written in row order, one line per row, each line flushed whole. A process
killed while writing leaves at most one damaged line, the last one. So:

- A line is *whole* when it has the header's width, a row number and a known outcome
  (`is_whole`), and, if it is the file's last, its newline reached the disk.
- `ReportLines.all()` (for `report`, `verify`, the undo file): every whole line; a damaged
  last line is left out and `torn` says so; a damaged line anywhere else raises
  `ReportError`, since counts that skip rows silently would mislead.
- `ReportLines.prefix()` (for `--resume`): the lines that can be trusted, rows 1, 2, 3...
  in sequence, up to the first line that is not whole or not the next row; everything
  after it is sent again. A cell the csv module refuses is such a line, which is why the
  field-size limit is one for every reader, and a limit too low for our own files (a
  program's that imports `worker`) is an error, never a torn line (`worker.core.cells`).

The header is checked once, by `open_lines`, which also decides once, from the header
line, the report's CSV dialect (`,` or `;`, a BOM or not: `worker.files.csvdialect`);
every line is then read in it, at no cost per line. Lines are `list[str]`; `Col` names
the cells.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
from collections.abc import Generator, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

from worker.core.cells import check_refusal
from worker.core.columns import ID_COLUMN, REPORT_COLUMNS, Col
from worker.core.errors import ReportError
from worker.core.outcomes import Outcome
from worker.files.csvdialect import CsvDialect, of_report

__all__ = ["ReportLines", "ends_with_newline", "is_whole", "open_lines"]

_OUTCOMES = frozenset(o.value for o in Outcome)


def is_whole(cells: list[str], width: int) -> bool:
    """A line as a report writes it: `width` cells, a row number, a known outcome."""
    return (len(cells) == width and cells[Col.ROW].isascii() and cells[Col.ROW].isdigit()
            and cells[Col.OUTCOME] in _OUTCOMES)


class ReportLines:
    def __init__(self, path: Path, header: list[str], dialect: CsvDialect) -> None:
        self.path = path
        self.header = header
        self.dialect = dialect  # how the report is written: a resume writes on in it
        self.width = len(header)
        self.extra_columns = tuple(header[len(REPORT_COLUMNS):])
        self.torn = False  # set by all(): the last line was cut short and left out

    def all(self) -> Iterator[list[str]]:
        """Every whole line, in file order. Raises `ReportError` on a damaged one."""
        for chunk in self.chunks():
            yield from chunk

    def chunks(self) -> Iterator[list[list[str]]]:
        """`all()`'s lines, a list of up to `_CHUNK` at a time: checked per list with
        C loops (`_whole_chunk`), for readers that count a million lines (`report`)."""
        self.torn = False
        reader = _records_in_chunks(self.path, self.dialect.delimiter)
        chunk, before = next(reader, []), 0  # records before this chunk
        while chunk:
            following = next(reader, [])
            last = None if following else chunk.pop()  # the file's last line
            if not _whole_chunk(chunk, self.width):
                bad = next(i for i, cells in enumerate(chunk)
                           if not is_whole(cells, self.width))
                raise self._damaged(_line_number(self.path, self.dialect.delimiter,
                                                 before + bad))
            if chunk:
                yield chunk
            if last is not None:
                if ends_with_newline(self.path) and is_whole(last, self.width):
                    yield [last]
                else:
                    self.torn = True
            before += len(chunk)
            chunk = following

    def prefix(self, start: tuple[int, int] | None = None) -> Iterator[list[str]]:
        """The trusted lines: rows 1..k in sequence, each whole (see the module's rule).
        `start`: (the byte offset of a line, its row): the lines before it were taken
        already, by the same rule (`worker.report.resume.copy_plain_kept`); read on from there."""
        expected, last = (1, None) if start is None else (start[1], None)
        delimiter = self.dialect.delimiter
        records = (_records(self.path, delimiter, skip_header=True) if start is None
                   else _records(self.path, delimiter, skip_header=False, offset=start[0]))
        try:
            for _number, cells in records:
                if last is not None:
                    yield last
                    last = None
                if not is_whole(cells, self.width) or cells[Col.ROW] != str(expected):
                    return
                last, expected = cells, expected + 1
        except ReportError:
            # Unreadable from here (a quote left open by a kill): what came before stands.
            if last is not None:
                yield last
            return
        if last is not None and ends_with_newline(self.path):
            yield last

    def _damaged(self, number: int) -> ReportError:
        return ReportError(f"{self.path}, line {number}: not a report line (it should have "
                           f"{self.width} cells, a row number and an outcome): the report "
                           "was edited or damaged; use the file partoo-bulk wrote")


def open_lines(path: str | Path) -> ReportLines:
    """Open a report and check its header. Raises `ReportError` with the fix."""
    path = Path(path)
    if not path.exists():
        raise ReportError(f"{path}: no such report: check the path (a run writes "
                          "JOB.report.csv beside the job file, or where --report said)")
    if path.is_dir():
        raise ReportError(f"{path}: is a folder, not a report")
    try:
        dialect = of_report(path)
    except PermissionError:
        raise ReportError(f"{path}: permission denied: make the report readable") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the report ({exc.strerror})") from None
    records = _records(path, dialect.delimiter, skip_header=False)
    try:
        header = next(records, (0, None))[1]
    finally:
        records.close()
    if header is None:
        raise ReportError(f"{path}: the file is empty, so it is not a report: a run writes "
                          "the header line before anything else")
    if tuple(header[: len(REPORT_COLUMNS)]) != REPORT_COLUMNS:
        names = {h.strip().lower() for h in header}
        if tuple(header[: len(REPORT_COLUMNS) - 1]) == REPORT_COLUMNS[:-1]:
            raise ReportError(f"{path}: written by an earlier partoo-bulk, without the "
                              f"{Col.FAULT.label} column (whose fault a failed row is): "
                              "read it with the version that wrote it, or run the job again "
                              "into a new report")
        # A job never has a `row` column (the job reader refuses one): a header with one
        # is a damaged report's, not a job's.
        if ID_COLUMN in names and not names & {Col.OUTCOME.label, Col.ROW.label}:
            raise ReportError(f"{path}: this is a job file, not a report: the report of "
                              "`partoo-bulk run JOB` is JOB.report.csv (or the --report path)")
        raise ReportError(f"{path}, line 1: not a partoo-bulk report: its header should "
                          f"start with {','.join(REPORT_COLUMNS)} (or the same with ';'). If "
                          "a spreadsheet saved it again, use the file partoo-bulk wrote")
    return ReportLines(path, header, dialect)


def _open_at(path: Path, offset: int) -> TextIO:
    if not offset:
        return open(path, encoding="utf-8-sig", newline="")
    raw = open(path, "rb")  # closed with the text file around it
    raw.seek(offset)
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")  # no BOM past the start


def ends_with_newline(path: Path) -> bool:
    """Every report line ends with a newline: a last line without one was cut short."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


# Lines per list: small enough for a list to be read, checked, counted and freed while its
# cells are still in the CPU's cache (2,000 took twice the time of 200 for 1M lines).
_CHUNK = 200
_ROW, _OUTCOME = itemgetter(Col.ROW), itemgetter(Col.OUTCOME)


def _whole_chunk(chunk: list[list[str]], width: int) -> bool:
    """`is_whole` for every line of the chunk, in C loops rather than a call per line."""
    if not all(map(width.__eq__, map(len, chunk))):
        return False
    rows = list(map(_ROW, chunk))
    return (all(map(str.isdigit, rows)) and "".join(rows).isascii()
            and _OUTCOMES.issuperset(map(_OUTCOME, chunk)))


def _line_number(path: Path, delimiter: str, index: int) -> int:
    """The line number (as `_records` gives it) of the data record `index` (from 0): read
    again, for the message about a damaged line only."""
    for i, (number, _cells) in enumerate(_records(path, delimiter, skip_header=True)):
        if i == index:
            return number
    return 1  # not reached: the record was read once already


def _records_in_chunks(path: Path,
                       delimiter: str) -> Generator[list[list[str]], None, None]:
    """The data records, `_CHUNK` a list, straight from the csv module (no call per line)."""
    with _csv_reader(path, delimiter) as reader:
        next(reader, None)
        while chunk := list(itertools.islice(reader, _CHUNK)):
            yield chunk


def _records(path: Path, delimiter: str, *, skip_header: bool, offset: int = 0,
             ) -> Generator[tuple[int, list[str]], None, None]:
    """(line number, cells) per CSV record; read errors become `ReportError`. `offset`:
    from that byte on (the start of a line; line numbers then count from there)."""
    with _csv_reader(path, delimiter, offset) as reader:
        if skip_header:
            next(reader, None)
        for cells in reader:
            yield reader.line_num, cells


@contextlib.contextmanager
def _csv_reader(path: Path, delimiter: str, offset: int = 0) -> Iterator[Any]:
    """A csv reader of the report; its read errors, in the block, become `ReportError`."""
    try:
        # utf-8-sig: a report written or saved again with a BOM reads; newline="" for csv.
        with _open_at(path, offset) as f:
            reader = csv.reader(f, delimiter=delimiter)
            try:
                yield reader
            except UnicodeDecodeError:
                raise ReportError(f"{path}, near line {reader.line_num + 1}: not UTF-8 text, "
                                  "so not a report as partoo-bulk wrote it (a spreadsheet "
                                  "saved it again?): use the original file") from None
            except csv.Error as exc:
                check_refusal(exc, f"{path}, line {reader.line_num}")
                raise ReportError(f"{path}, line {reader.line_num}: not a readable CSV "
                                  f"({exc}): use the file partoo-bulk wrote") from None
    except PermissionError:
        raise ReportError(f"{path}: permission denied: make the report readable") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the report ({exc.strerror})") from None
