"""Read a job file: a CSV (or a plain list of ids) streamed into operations.

Two shapes are accepted:
- a CSV with a header naming `conversation_id` and the API's own action columns
  `status` / `assigned_user_id` (exactly one filled per row);
- either may carry guard columns (`expect_status`, `expect_assignee`,
  `expect_no_message_after`: `worker.core.guards`), read into the row's `Operation.guard`;
- with an `Override` (`--action` / `--assign`), a plain list of ids, one per line, with or
  without a `conversation_id` header (a one-column CSV, or more columns carried through).

The file is UTF-8 (a BOM is tolerated), `,` or `;` separated (detected from the header
line). Blank lines, and lines whose cells are all blank, are not rows, before the header
too: `row` numbers count data rows, 1-based. Quotes are read strictly: a quote left open
until the end of the file, or text after a closing quote, makes the file unreadable
rather than silently merging the following lines into one cell. Anything that makes the
whole file unreadable raises `JobFileError` with the file, the line and the fix; a bad row
only makes that row `invalid`.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import NoReturn, TextIO

from worker.core.cells import MAX_CELL, check_refusal
from worker.core.columns import ID_COLUMN
from worker.core.errors import JobFileError
from worker.core.operations import (
    Operation,
    Override,
    invalid,
    parse_action,
    parse_conversation_id,
    parse_guard,
)
from worker.core.outcomes import Result
from worker.files.csvdialect import CsvDialect, delimiter_of, has_bom
from worker.jobfile.header import Layout, header_layout, plain_layout

__all__ = ["Job", "open_job"]


class Job:
    """An opened job file. `items()` can be called more than once (plan, then run).

    `path` is the job as the operator named it (in messages, the report's meta); `data`
    is the file read, the same one unless a run pinned the job to a private copy
    (`worker.jobfile.pinned`). `dialect` is how the file is written (its delimiter, a
    BOM or not): what the report and the undo job follow by default
    (`worker.files.csvdialect`).
    """

    def __init__(self, path: Path, layout: Layout, override: Override | None,
                 data: Path | None = None, *, bom: bool = False) -> None:
        self.path = path
        self.data = data or path
        self.override = override
        self._layout = layout
        self.dialect = CsvDialect(layout.delimiter, bom)
        # (SHA-256, size) of `data`, when whoever opened it hashed it on the way
        # (`worker.jobfile.pinned`); None: not known, hash it if you need it.
        self.digest: tuple[str, int] | None = None

    @property
    def extra_columns(self) -> tuple[str, ...]:
        return self._layout.extra_names

    def items(self, skip: int = 0) -> Generator[Operation | Result, None, None]:
        """Every data row in file order: an `Operation`, or an invalid `Result`. The
        first `skip` rows are read (the file checked) but neither parsed nor yielded:
        those a resume keeps from the earlier report.

        Close it to close the file at once when stopping early."""
        lay = self._layout
        # The header and the skipped rows: read a list at a time (`_take`), not parsed.
        ahead = skip + lay.has_header
        records = (cells for _line, cells in _records(self.data, lay.delimiter, self.path,
                                                      skip=ahead)
                   if not _blank(cells))
        row = skip
        for cells in records:
            row += 1
            yield self._parse(row, cells)

    def count_rows(self) -> int:
        """How many rows `items()` yields, the whole file read as `items()` reads it (what
        makes it unreadable raises the same `JobFileError`), but no row's cells parsed:
        a run with nothing to show checks the file first at a fraction of the cost."""
        delimiter = self._layout.delimiter
        try:
            with _open(self.data) as f:
                records = _take(csv.reader(f, delimiter=delimiter, strict=True), None)
        except (csv.Error, UnicodeDecodeError, OSError):
            _exact_error(self.data, delimiter, self.path)
        return max(0, records - 1) if self._layout.has_header else records

    def _parse(self, row: int, cells: list[str]) -> Operation | Result:
        lay = self._layout
        extras = [cells[i] if i < len(cells) else "" for i in lay.extra_cols]
        raw_id = cells[lay.id_col] if lay.id_col < len(cells) else ""
        if len(cells) > lay.width and not lay.has_header:
            return invalid(row, raw_id, f"this line has {len(cells)} cells: a plain list has "
                           "one id per line (or add a header naming conversation_id and the "
                           "other columns)", extras)
        if len(cells) > lay.width:
            return invalid(row, raw_id, f"this row has {len(cells)} cells but the header has "
                           f"{lay.width} columns (cells from column {lay.width + 1} on have "
                           f"no header): quote cells that contain {lay.delimiter!r}", extras)
        try:
            if self.override is not None:
                action, value = self.override.action, self.override.value
            else:
                action, value = parse_action(_cell(cells, lay.status_col),
                                             _cell(cells, lay.assignee_col))
        except ValueError as exc:
            return invalid(row, raw_id, str(exc), extras)
        try:
            conversation_id = parse_conversation_id(raw_id)
        except ValueError as exc:
            # The action was fine: show it, so the report row reads as what was meant.
            return invalid(row, raw_id, str(exc), extras, action.value, value)
        try:
            guard = parse_guard(*(_cell(cells, col) for col in lay.guard_cols))
        except ValueError as exc:
            return invalid(row, raw_id, str(exc), extras, action.value, value)
        return Operation(row=row, conversation_id=conversation_id, action=action,
                         value=value, cells=extras, guard=guard)


def open_job(path: str | Path, override: Override | None = None, *,
             shown: Path | None = None) -> Job:
    """Open and check a job file's shape (not its rows). Raises `JobFileError`.

    `shown`: the name messages give the file, when `path` is a copy of it."""
    path = Path(path)
    name = shown or path
    if not path.exists():
        raise JobFileError(f"{name}: no such job file: check the path")
    if path.is_dir():
        raise JobFileError(f"{name}: is a folder, not a job file")
    delimiter = _delimiter(path, name)
    first = None if delimiter is None else _first_record(path, delimiter, name)
    if delimiter is None or first is None:
        raise JobFileError(f"{name}: the file is empty: a job needs a header line "
                           "(conversation_id,status or conversation_id,assigned_user_id) "
                           "and at least one row")
    line, header = first
    bom = has_bom(path)
    if override is not None and ID_COLUMN not in (h.strip().lower() for h in header):
        return Job(name, plain_layout(delimiter), override, path, bom=bom)
    return Job(name, header_layout(name, line, delimiter, header, override), override, path,
               bom=bom)


def _first_record(path: Path, delimiter: str, name: Path) -> tuple[int, list[str]] | None:
    """The first record that is not blank (the header), with the line it starts on."""
    records = _records(path, delimiter, name)
    try:
        return next(((line, cells) for line, cells in records if not _blank(cells)), None)
    finally:
        records.close()  # closes the file now, not whenever the generator is collected


def _blank(cells: list[str]) -> bool:
    # One C call per row, not a generator: every row of every pass goes through here.
    return not "".join(cells).strip()


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def _delimiter(path: Path, name: Path) -> str | None:
    """The header line's delimiter (`worker.files.csvdialect.delimiter_of`).

    The header line is the first one with more than separators and spaces on it; None
    when there is no such line (the file is empty).
    """
    with _open(path) as f:
        number = 0
        try:
            for number, line in enumerate(f, 1):  # noqa: B007 (used in the except)
                if line.strip(" \t\r\n,;"):
                    break
            else:
                return None
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, name, number + 1, exc) from None
    return delimiter_of(line)


_CHUNK = 256  # records a list, for `_take`


def _take(reader: Iterator[list[str]], limit: int | None) -> int:
    """Read records off `reader` until `limit` of them that are not blank were read (all
    of them for None), a list at a time, each check a C loop: how many were read (blank
    ones not counted). Raises csv.Error (a cell over MAX_CELL too) and
    UnicodeDecodeError without the line: `_exact_error` then finds it."""
    taken = 0
    while limit is None or taken < limit:
        chunk = list(itertools.islice(reader, _CHUNK if limit is None
                                      else min(_CHUNK, limit - taken)))
        if not chunk:
            break
        if max(map(len, itertools.chain.from_iterable(chunk)), default=0) > MAX_CELL:
            raise csv.Error("field larger than field limit")
        taken += len(chunk) - list(map(str.strip, map("".join, chunk))).count("")
    return taken


def _exact_error(path: Path, delimiter: str, name: Path) -> NoReturn:
    """After `_take` failed: read the file record by record to raise the error with its
    line, as `_records` words it."""
    for _record in _records(path, delimiter, name):
        pass
    raise JobFileError(f"{name}: cannot read the job file: it changed while it was read")


def _records(path: Path, delimiter: str, name: Path, *,
             skip: int = 0) -> Generator[tuple[int, list[str]], None, None]:
    """(line number, cells) for each CSV record; translates read errors to JobFileError
    (naming the file `name`). `skip`: the first records that are not blank (and the blank
    ones among them) are read and checked, but not yielded (`_take`)."""
    try:
        with _open(path) as f:
            # strict: a quote still open at the end of the file is an error, not a cell
            # that silently swallowed every line after it.
            reader = csv.reader(f, delimiter=delimiter, strict=True)
            start = 1  # the line the record being read starts on
            if skip:
                try:
                    _take(reader, skip)
                except (csv.Error, UnicodeDecodeError):
                    _exact_error(path, delimiter, name)
                start = reader.line_num + 1
            try:
                for cells in reader:
                    if cells and max(map(len, cells)) > MAX_CELL:
                        # The csv limit leaves room for the report's neutralising quote
                        # (worker.core.cells); a job's own cells stop at MAX_CELL.
                        raise csv.Error("field larger than field limit")
                    yield start, cells
                    start = reader.line_num + 1
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, name, reader.line_num + 1, exc) from None
            except csv.Error as exc:
                check_refusal(exc, f"{name}, line {start}")  # a host's lower csv limit
                raise _unreadable(name, start, reader.line_num, exc) from None
    except PermissionError:
        raise JobFileError(f"{name}: permission denied: make the job file readable") from None
    except OSError as exc:
        raise JobFileError(f"{name}: cannot read the job file ({exc.strerror})") from None


def _unreadable(path: Path, start: int, end: int, exc: csv.Error) -> JobFileError:
    if str(exc) == "unexpected end of data":
        return JobFileError(f"{path}, line {start}: a quote opened on this line is never "
                            "closed (the file ends inside it): close the quote, or double "
                            'a quote that belongs to the text ("")')
    if "expected after" in str(exc):
        return JobFileError(f"{path}, line {end}: not a readable CSV ({exc}): a quoted cell "
                            "must end right after its closing quote; double a quote that "
                            'belongs to the text ("")')
    where = f"line {start}" if start == end else f"lines {start}-{end}"
    if "field larger than field limit" in str(exc):
        if start == end:  # one line holds it: no quote swallowed the lines after it
            return JobFileError(f"{path}, {where}: a cell is over {MAX_CELL // 1024} KB "
                                "(a quote that never closes on this line, or a line that "
                                "is not a job's: a binary, an export gone wrong?): fix or "
                                "remove that line")
        return JobFileError(f"{path}, line {start}: a quote opened on this line does not "
                            f"close within {MAX_CELL // 1024} KB (it runs to line {end} "
                            "at least): close the quote, or double a quote that belongs to "
                            'the text ("")')
    return JobFileError(f"{path}, {where}: not a readable CSV ({exc}): check for an "
                        "unclosed quote")


def _open(path: Path) -> TextIO:
    # utf-8-sig drops a BOM; newline="" lets csv see quoted newlines and any line ending.
    return open(path, encoding="utf-8-sig", newline="")


def _not_utf8(path: Path, name: Path, line: int, exc: UnicodeDecodeError) -> JobFileError:
    # The text layer decodes in chunks, so `line` is only near; find the real one.
    line, byte = _first_bad_line(path) or (line, exc.object[exc.start])
    return JobFileError(f"{name}, line {line}: the file is not UTF-8 text (byte "
                        f"0x{byte:02x}). Save it as UTF-8 (in Excel: 'CSV UTF-8'), or "
                        "convert it: iconv -f latin1 -t utf-8")


def _first_bad_line(path: Path) -> tuple[int, int] | None:
    """(line number, offending byte) of the first line that is not UTF-8."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, raw[exc.start]
    return None
