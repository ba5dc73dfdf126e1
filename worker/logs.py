"""Logging set-up: `-v` for one line per request, `--log-format json` for log shippers.

Nothing we log carries a header, but a filter also masks the key's value in every record
(ours and the libraries'), so a log line cannot leak it even by accident.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["REQUEST_LOG", "setup_logging"]

REQUEST_LOG = logging.getLogger("partoo_bulk.requests")
_FIELDS = ("method", "path", "status", "attempt", "duration_ms", "row", "error")


class _MaskSecret(logging.Filter):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self._secret in text:
            record.msg, record.args = text.replace(self._secret, "**********"), None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        data = {"ts": when.isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name,
                "message": record.getMessage()}
        data.update({k: getattr(record, k) for k in _FIELDS if hasattr(record, k)})
        return json.dumps(data, ensure_ascii=False)


def setup_logging(*, verbose: bool, fmt: str, secret: str | None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    if secret:
        handler.addFilter(_MaskSecret(secret))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("partoo_bulk").setLevel(logging.INFO if verbose else logging.WARNING)
