"""The HTTP seam: one PATCH to Partoo, one classification.

`PartooClient.update(op)` (and `get(path)`) sends exactly one request and either returns (the API's
documented success answer) or raises one `RequestError` from `worker.errors`. This is
the only place that knows aiohttp's and asyncio's exceptions; it translates them.

Redirects are never followed: aiohttp would carry our `x-APIKey` header to whatever host
the redirect names (it strips only `Authorization` and cookies). A 3xx from Partoo's API
means the base URL is wrong, so it is a permanent error that says so.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr

from worker.errors import (
    NetworkError,
    RateLimited,
    Rejected,
    RequestError,
    ServerError,
    Unauthorized,
    Unexpected,
)
from worker.operations import Operation
from worker.retry import parse_retry_after

__all__ = ["PartooClient", "api_message", "open_session"]

_MAX_BODY = 64 * 1024  # an error page larger than this is cut; we only quote its start
_USER_AGENT = "partoo-bulk"


def open_session(concurrency: int, request_timeout_s: float) -> aiohttp.ClientSession:
    """One session for the whole run; its pool holds as many connections as may be in use."""
    connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300)
    # sock_read catches replies that trickle in; total bounds the whole exchange. The
    # engine takes the rate permit and the semaphore first, so no time here is spent
    # queueing for a pooled connection.
    timeout = aiohttp.ClientTimeout(total=request_timeout_s, sock_connect=request_timeout_s,
                                    sock_read=request_timeout_s)
    return aiohttp.ClientSession(connector=connector, timeout=timeout,
                                 headers={"User-Agent": _USER_AGENT})


class PartooClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: SecretStr,
                 request_timeout_s: float) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._host = urlsplit(self._base_url).netloc
        self._api_key = api_key
        self._timeout_s = request_timeout_s

    def __repr__(self) -> str:
        return f"PartooClient(base_url={self._base_url!r}, api_key=SecretStr('**********'))"

    async def update(self, op: Operation) -> int:
        """PATCH one conversation. Returns 200, or raises a `RequestError`."""
        url = f"{self._base_url}/conversations/{op.conversation_id}"
        status, parsed, body = await self._request("PATCH", url, json=op.body())
        if isinstance(parsed, dict) and parsed.get("status") == "success":
            return status
        raise Unexpected(f"200 but not Partoo's success answer ({_describe(body, parsed)}): "
                         "check PARTOO_BASE_URL", http_status=status)

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET `{base_url}{path}`. Returns the JSON object of a 200, or raises."""
        status, parsed, body = await self._request("GET", self._base_url + path,
                                                   params=params)
        if isinstance(parsed, dict):
            return parsed
        raise Unexpected(f"200 but not a JSON object ({_describe(body, parsed)}): "
                         "check PARTOO_BASE_URL", http_status=status)

    async def _request(self, method: str, url: str, *, json: Any = None,
                       params: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        """One exchange: (200, parsed JSON or None, raw body), or a `RequestError`."""
        headers = {"x-APIKey": self._api_key.get_secret_value()}
        try:
            async with self._session.request(method, url, json=json, params=params,
                                             headers=headers, allow_redirects=False) as resp:
                body = await _read_bounded(resp)
                parsed = _json(body)
                _raise_for_status(resp.status, resp.reason or "", resp.headers, body, parsed)
                return resp.status, parsed, body
        except RequestError:
            raise
        except TimeoutError:
            raise NetworkError(f"no answer within {self._timeout_s:g} s (timeout)") from None
        except aiohttp.ClientConnectorError as exc:
            raise NetworkError(f"cannot connect to {self._host}: "
                               f"{exc.os_error.strerror or exc.os_error}") from None
        except aiohttp.ServerDisconnectedError:
            raise NetworkError("the server closed the connection without an answer") from None
        except aiohttp.ClientPayloadError:
            raise NetworkError("the answer was cut short (connection lost)") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"connection error: {type(exc).__name__}") from None


async def _read_bounded(resp: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < _MAX_BODY:
        chunk = await resp.content.read(_MAX_BODY - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _raise_for_status(status: int, reason: str, headers: Any, body: bytes,
                      parsed: Any) -> None:
    """Nothing for a 200; otherwise the `RequestError` that the status means."""
    if status == 200:
        return
    if 200 < status < 300:
        raise Unexpected(f"{status} instead of 200 ({_describe(body, parsed)}): check "
                         "PARTOO_BASE_URL", http_status=status)
    if 300 <= status < 400:
        target = urlsplit(headers.get("Location", "")).netloc or "another address"
        raise Unexpected(f"{status} redirect to {target} not followed (the key is never "
                         "sent to another address): check PARTOO_BASE_URL", http_status=status)
    if status == 401:
        raise Unauthorized(f"401 {api_message(parsed) or 'not authenticated'}: "
                           "check PARTOO_API_KEY", http_status=status)
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise RateLimited("429 rate limited", retry_after_s=retry_after)
    if status >= 500 or status == 408:
        raise ServerError(f"{status} {reason}: {_describe(body, parsed)}".strip(),
                          http_status=status,
                          retry_after_s=parse_retry_after(headers.get("Retry-After")))
    detail = api_message(parsed) or _describe(body, parsed)
    raise Rejected(f"{status} {detail}", http_status=status)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def api_message(parsed: Any) -> str:
    """The API's own error text, from `{"errors": ...}` or `{"error": ...}` (both occur)."""
    if not isinstance(parsed, dict):
        return ""
    detail = parsed.get("errors", parsed.get("error"))
    return _flatten(detail) if detail is not None else ""


def _flatten(detail: Any) -> str:
    if isinstance(detail, dict):
        parts = []
        for key, value in detail.items():
            text = _flatten(value)
            parts.append(text if key == "json" else f"{key}: {text}")
        return "; ".join(parts)
    if isinstance(detail, list):
        return "; ".join(_flatten(v) for v in detail)
    return str(detail)


def _describe(body: bytes, parsed: Any) -> str:
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
