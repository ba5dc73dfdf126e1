"""What an HTTP answer from Partoo means: a status and a body in, a `RequestError` out.

Pure functions, no I/O: the client reads the answer, these decide. A JSON answer's
reason (Partoo's `errors`/`error`, RFC 9457 problem+json) is quoted whole
(`worker.partoo.reason`); anything else is described briefly (an HTML page, an empty
body, the start of the text) so a row's error says what came back without quoting a
whole page.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from typing import Any
from urllib.parse import urlsplit

from worker.core.errors import RateLimited, Rejected, ServerError, Unauthorized, Unexpected
from worker.partoo.reason import reason

__all__ = ["api_message", "describe", "parse_json", "parse_retry_after", "raise_for_status"]


def raise_for_status(status: int, reason: str, headers: Any, body: bytes,
                      parsed: Any, *, key_source: str = "PARTOO_API_KEY") -> None:
    """Nothing for a 200; otherwise the `RequestError` that the status means.
    `key_source` is what a 401 tells to check (`worker.keyfile.key_source`)."""
    if status == 200:
        return
    if 200 < status < 300:
        raise Unexpected(f"{status} instead of 200 ({describe(body, parsed)}): check "
                         "PARTOO_BASE_URL", http_status=status)
    if 300 <= status < 400:
        target = urlsplit(headers.get("Location", "")).netloc or "another address"
        raise Unexpected(f"{status} redirect to {target} not followed (the key is never "
                         "sent to another address): check PARTOO_BASE_URL", http_status=status)
    if status == 401:
        raise Unauthorized(f"401 {api_message(parsed) or 'not authenticated'}: "
                           f"check {key_source}", http_status=status)
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise RateLimited("429 rate limited", retry_after_s=retry_after)
    if status >= 500 or status == 408:
        raise ServerError(f"{status} {reason}: {describe(body, parsed)}".strip(),
                          http_status=status,
                          retry_after_s=parse_retry_after(headers.get("Retry-After")))
    if parsed is None:
        # Partoo's refusals are JSON. A page such as "404: Not Found" comes from something
        # else (a base URL without /v2, a proxy): the server's fault, not the row's, so
        # the circuit breaker counts it and a wrong address stops the run early.
        raise Unexpected(f"{status} {describe(body, parsed)}: not an answer of Partoo's "
                         "API: check PARTOO_BASE_URL", http_status=status)
    detail = api_message(parsed) or describe(body, parsed)
    raise Rejected(f"{status} {detail}", http_status=status)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def api_message(parsed: Any) -> str:
    """The server's own reason in a JSON answer, whole; "" when it gives none."""
    return reason(parsed)


def describe(body: bytes, parsed: Any) -> str:
    if not body.strip():
        return "empty body"
    if parsed is not None:
        return api_message(parsed) or _snippet(body)
    text = body.decode("utf-8", "replace")
    if "<html" in text[:500].lower() or "<!doctype" in text[:500].lower():
        return "an HTML page, not JSON (a proxy or a wrong base URL?)"
    return f"not JSON: {_snippet(body)}"


def _snippet(body: bytes, limit: int = 120) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[:limit] + "…"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date).

    None when absent or unusable (garbage, negative, not finite); a date in the past is 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = max(0.0, when.timestamp() - (time.time() if now is None else now))
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds
