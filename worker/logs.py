"""What a command tells its operator on stderr: plain text for people, or, with
`--log-format json`, one JSON object per line for log shippers.

Two kinds of lines, both on stderr:
- events (`event()`): progress, a stop, the run's summary, an error. As text, the message
  alone, as people have always read it; as JSON, `{"ts", "level", "event", "run_id",
  "message", ...fields}`.
- request lines (`-v`, the `partoo_bulk.requests` logger): one per HTTP request, with
  method, path, conversation_id, row, attempt, http_status, duration_ms and error.

Levels say whether to look: `info` all is well; `warning` the run goes on but something
went wrong (a 5xx, a 429, a lost connection, a refused row); `error` the command stopped
(an abort, could not start). The HTTP status is `http_status`, never `status`: log
pipelines read `status` as the level. Every line of one command carries one `run_id`.

The key (and a proxy URL's password) is masked (`**********`) in every line, ours and the
libraries', even if some message were to carry it by accident.

A line stays one line, in the order it was written: text quoted from elsewhere (a
server's error, a job's cell) may hold Unicode's own line breaks (U+2028, U+2029, NEL)
or bidirectional controls (U+202E turns the rest of a line around, "Trojan Source"),
which a terminal or a log viewer obeys. Every line, text or JSON, carries them escaped
(`\u2028`; in JSON the same escape, so the value read back is unchanged); request
lines also escape every control character, as `report` does (`worker.core.text`).

Whose logging it is: the library (and so the Python API) configures none. Its records go
to the `partoo_bulk` logger and on to whatever the host set up (a `NullHandler` keeps them
quiet where nothing was). Only the CLI shows them (`setup_logging`), with one handler of
its own: on the root logger when nobody else configured logging (a `partoo-bulk`
process: the libraries' lines are then formatted and masked too), else on `partoo_bulk`
alone, leaving the host's root handlers and level as they are. `cli_logging()` undoes it
when the command ends, so `cli.main` called in-process leaves a host's logging as it was.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from worker.core.text import printable

__all__ = ["ERROR", "INFO", "LOGGER", "REQUEST_LOG", "WARNING", "cli_logging", "event",
           "json_mode", "run_id", "setup_logging", "start"]

INFO, WARNING, ERROR = logging.INFO, logging.WARNING, logging.ERROR
LOGGER = logging.getLogger("partoo_bulk")
LOGGER.addHandler(logging.NullHandler())
REQUEST_LOG = logging.getLogger("partoo_bulk.requests")
_FIELDS = ("method", "path", "conversation_id", "row", "attempt", "http_status",
           "duration_ms", "error")
_MASK = "**********"
# Line and paragraph separators, NEL, and the bidi marks, embeddings, overrides and
# isolates (U+061C, U+200E-F, U+202A-E, U+2066-9): what breaks or reorders a line.
_LAYOUT = re.compile("[\x85\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _one_line(text: str) -> str:
    """`text` with each line-breaking or reordering character as its escape (`\\u202e`):
    valid in a JSON string too, where it reads back as the character itself."""
    return _LAYOUT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _State:
    fmt = "text"
    run_id = uuid.uuid4().hex
    secret: str | None = None
    also: tuple[str, ...] = ()  # other secrets to mask (a proxy URL's password)


def start(fmt: str = "text") -> str:
    """A new command: its output format and a fresh run id (returned)."""
    _State.fmt, _State.run_id, _State.secret = fmt, uuid.uuid4().hex, None
    _State.also = ()
    return _State.run_id


def json_mode() -> bool:
    return _State.fmt == "json"


def run_id() -> str:
    return _State.run_id


def event(name: str, message: str, *, level: int = INFO, **fields: Any) -> None:
    """Tell the operator something, on stderr: `message` as text, or a JSON line."""
    if _State.fmt == "json":
        data = {"ts": _now(), "level": logging.getLevelName(level).lower(), "event": name,
                "run_id": _State.run_id, "message": _plain(message)}
        data.update(fields)
        line = _mask(json.dumps(data, ensure_ascii=False, default=str))
    else:
        line = _mask(message)
    print(_one_line(line), file=sys.stderr, flush=True)


def _plain(message: str) -> str:
    # Text lines carry the tool's name for a person reading a mixed terminal; a JSON
    # record says it with its fields.
    return message.strip().removeprefix("partoo-bulk: ")


def _mask(text: str) -> str:
    secret = _State.secret
    text = text.replace(secret, _MASK) if secret and secret in text else text
    for other in _State.also:
        if other in text:
            text = text.replace(other, _MASK)
    return text


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _MaskSecret(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = _mask(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


class _TextFormatter(logging.Formatter):
    """Request lines with their time and level; anything else (a warning) as it is said.

    The time is the report's clock: UTC, ISO 8601 with its zone, to the millisecond
    (`2026-12-02T07:09:08.600+00:00`), as in the JSON lines and the report's finished_at.
    A request line quotes the server (its error text): control characters (CR, LF, ESC,
    BEL) are escaped as `report` escapes them, so that a server cannot rewrite the
    operator's terminal or forge a line."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == REQUEST_LOG.name:
            when = datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds")
            return _one_line(f"{when} {record.levelname} {printable(record.getMessage())}")
        return _one_line(record.getMessage())


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        ours = record.name == REQUEST_LOG.name
        data = {"ts": when.isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "event": "request" if ours else "log",
                "run_id": _State.run_id, "logger": record.name,
                "message": _plain(record.getMessage())}
        data.update({k: getattr(record, k) for k in _FIELDS if hasattr(record, k)})
        return _one_line(_mask(json.dumps(data, ensure_ascii=False, default=str)))


class _CliHandler(logging.StreamHandler[TextIO]):
    """The CLI's handler, told apart from a host's so that only it is ever removed."""


def setup_logging(*, verbose: bool, fmt: str, secret: str | None,
                  also_secret: tuple[str, ...] = ()) -> None:
    """Where log records go (stderr, as `fmt`); `verbose` turns the request lines on;
    `secret` (the key) and `also_secret` (a proxy's password) are masked in every line."""
    _State.fmt, _State.secret = fmt, secret or None
    _State.also = tuple(s for s in also_secret if s)
    handler = _CliHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter())
    handler.addFilter(_MaskSecret())
    root = logging.getLogger()
    for logger in (root, LOGGER):
        for old in [h for h in logger.handlers if isinstance(h, _CliHandler)]:
            logger.removeHandler(old)
    if root.handlers:  # a host's: ours on our logger only, shown once, by us
        LOGGER.addHandler(handler)
        LOGGER.propagate = False
    else:
        root.addHandler(handler)
    # Without -v no request line at all, not even the warnings: -v is what asks for them.
    REQUEST_LOG.setLevel(logging.INFO if verbose else logging.CRITICAL + 1)


@contextmanager
def cli_logging() -> Iterator[None]:
    """For one command: whatever `setup_logging` did is undone when it ends."""
    root = logging.getLogger()
    saved = (list(root.handlers), list(LOGGER.handlers), LOGGER.propagate, REQUEST_LOG.level)
    try:
        yield
    finally:
        root_handlers, LOGGER.handlers[:], LOGGER.propagate, level = saved
        for h in [h for h in root.handlers if isinstance(h, _CliHandler)]:
            if h not in root_handlers:
                root.removeHandler(h)
        REQUEST_LOG.setLevel(level)
