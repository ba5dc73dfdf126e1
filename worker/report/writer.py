"""The report: one CSV line per job row, in row order, handed to the OS in batches.

Columns: `REPORT_COLUMNS`, then the job's extra columns unchanged. Cells a spreadsheet
would run as a formula (starting with = + - @, a tab or a CR) are neutralised with a
leading apostrophe, the OWASP advice for CSV injection. `write()` buffers a line and
`flush()` hands what was buffered to the OS; the run flushes once per turn of its
event loop (`worker.run.runner`), before it waits for anything else, so a killed
process leaves a complete, in-order prefix of every row finished before that turn (at
most one half-written last line, which `--resume` repairs). One `write` system call
per batch instead of per line: at 64 replies a turn, the line's own cost.

The report is written in one CSV dialect (`worker.files.csvdialect`): its delimiter, and a
BOM, once, before the header. The run decides which (the job's, unless `--csv-dialect`;
a resumed report keeps the one it has), the writer only follows it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TextIO

from worker.core.cells import neutralise
from worker.core.columns import REPORT_COLUMNS
from worker.core.errors import ReportError
from worker.core.outcomes import Result
from worker.files.atomic import open_nofollow
from worker.files.csvdialect import COMMA, CsvDialect

__all__ = ["ReportWriter", "result_line"]


def result_line(result: Result) -> list[str]:
    if result.line is not None:
        return result.line
    fixed = [
        str(result.row),
        neutralise(result.conversation_id),
        result.action,
        neutralise(result.value),
        result.outcome.value,
        "" if result.http_status is None else str(result.http_status),
        str(result.attempts),
        neutralise(result.error),
        "" if result.duration_ms is None else str(result.duration_ms),
        result.finished_at,
        "" if result.fault is None else result.fault.value,
    ]
    return fixed + [neutralise(c) for c in result.cells]


class ReportWriter:
    """Append-only writer. Use as a context manager; `write()` in row order."""

    def __init__(self, path: Path, extra_columns: tuple[str, ...], *, append: bool = False,
                 dialect: CsvDialect = COMMA):
        self.path = path
        self.dialect = dialect
        self._header = [*REPORT_COLUMNS, *(neutralise(c) for c in extra_columns)]
        self._append = append
        self._file: TextIO | None = None
        self.rows_written = 0  # lines written, some perhaps still in the buffer
        self.rows_flushed = 0  # lines handed to the OS

    def __enter__(self) -> ReportWriter:
        try:
            # Never through a link (R.partial is a file beside the report; the report's
            # own path was taken to its file before): worker.files.atomic.
            mode = os.O_APPEND if self._append else os.O_TRUNC
            fd = open_nofollow(self.path, os.O_WRONLY | os.O_CREAT | mode)
            self._file = open(fd, "a" if self._append else "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ReportError(f"{self.path}: cannot write the report ({exc.strerror}): "
                              "check that the folder exists and is writable, or pass "
                              "--report PATH") from None
        self._writer = self.dialect.writer(self._file)
        if not self._append:
            self.dialect.start(self._file)
            self._writer.writerow(self._header)
            self._file.flush()
        return self

    def write(self, result: Result) -> None:
        """Buffer one line (a full buffer goes to the OS at once). OSError (disk full,
        ...) propagates to the caller."""
        assert self._file is not None
        self._writer.writerow(result_line(result))
        self.rows_written += 1

    def write_lines(self, lines: Iterable[list[str]]) -> None:
        """Lines already as a report holds them (kept by a resume), written unchanged."""
        assert self._file is not None
        for line in lines:
            self._writer.writerow(line)
            self.rows_written += 1

    def header_line(self) -> bytes:
        """The header line as this writer wrote it (read back: whatever its dialect)."""
        assert self._file is not None
        self._file.flush()
        with open(self.path, "rb") as f:
            return f.readline()

    def write_bytes(self, data: bytes, lines: int) -> None:
        """`lines` whole lines, as bytes in this report's own dialect (a resume's kept
        lines, `worker.report.resume.copy_plain_kept`), after what was written so far."""
        assert self._file is not None
        self._file.flush()  # the text buffer first: the bytes go after it
        self._file.buffer.write(data)
        self.rows_written += lines

    def flush(self) -> None:
        """Hand the buffered lines to the OS (nothing once closed). OSError propagates
        to the caller."""
        if self._file is None or self._file.closed:
            return
        self._file.flush()
        self.rows_flushed = self.rows_written

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._file is None:
            return
        try:
            self.flush()
            os.fsync(self._file.fileno())
        except OSError:
            pass  # already reported by write(); closing must not hide the first error
        finally:
            try:
                self._file.close()
            except OSError:
                pass
