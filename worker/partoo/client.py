"""The HTTP seam: one request to Partoo, one classification.

`PartooClient.update(op)` (and `get(path)`) sends exactly one request and either returns
(the API's documented success answer) or raises one `RequestError` from `worker.core.errors`
(what a status and a body mean is decided in `worker.partoo.answers`). This is the only place
that knows aiohttp's and asyncio's exceptions; it translates them.

Redirects are never followed: aiohttp would carry our `x-APIKey` header to whatever host
the redirect names (it strips only `Authorization` and cookies). A 3xx from Partoo's API
means the base URL is wrong, so it is a permanent error that says so.

Error messages quote the server (its error text, the start of an HTML page): a server or
proxy that echoes our key back must not get it into the report, so every message is
scrubbed of the key before it leaves this module, and so is any other exception that
quotes it (a library refusing the header, say).
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr
from yarl import URL

from worker.core.conversation import ConversationState, read_state
from worker.core.errors import (
    ConfigError,
    NetworkError,
    RequestError,
    Unauthorized,
    Unexpected,
)
from worker.core.operations import Operation
from worker.core.urls import Proxy
from worker.keyfile import key_source
from worker.partoo.answers import describe, parse_json, raise_for_status
from worker.partoo.tls import ssl_context, verify_failed

__all__ = ["PartooClient", "open_session"]

_MAX_BODY = 64 * 1024  # an error page larger than this is cut; we only quote its start
_USER_AGENT = "partoo-bulk"
_MASK = "**********"
_MIN_MASKED = 8
_MAY_HAVE_APPLIED = "it may have been applied"
# Partoo's success answer as the API (and the simulator) writes it: recognised without
# a JSON parse. Any other spelling of it is parsed as usual.
_SUCCESS_BODY = b'{"status": "success"}'
_BODIES_KEPT = 1024  # encoded PATCH bodies kept: one per action and user id, mostly


def open_session(concurrency: int, request_timeout_s: float, *,
                 ca_files: tuple[tuple[str, str], ...] = (),
                 tls: bool = True) -> aiohttp.ClientSession:
    """One session for the whole run; its pool holds as many connections as may be in use.
    TLS is checked against the system's trust store and `ca_files` (`worker.partoo.tls`).
    `tls=False` (no https base URL nor proxy: the simulator): no context is built, a
    certificate store read for connections that never use it (tens of ms of start-up)."""
    connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300,
                                     ssl=ssl_context(ca_files) if tls else True)
    # total bounds the whole exchange, a reply that trickles in included (a sock_read
    # of the same length could never fire first, and re-arms a timer per chunk). The
    # row's work takes the rate permit (and the engine the slot) first, so no time here is spent
    # queueing for a pooled connection.
    timeout = aiohttp.ClientTimeout(total=request_timeout_s, sock_connect=request_timeout_s)
    # trust_env stays off: the proxy is decided once, by `worker.config.network` (the
    # same decision for the preflight), and aiohttp's trust_env would also send
    # ~/.netrc passwords to the API.
    session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                    headers={"User-Agent": _USER_AGENT})
    # aiohttp silently sends a GET again when a kept-alive connection turns out closed:
    # a request the rate limiter never paced and the report never counted. Every
    # retry is ours to make (`worker.sending.retrypolicy`). The switch is private: it
    # exists on every aiohttp pyproject allows (3.11 on, below 4), and
    # tests/partoo/test_session.py fails if a release renames it or changes its default.
    session._retry_connection = False
    return session


class PartooClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: SecretStr,
                 request_timeout_s: float, *, proxy: Proxy | None = None) -> None:
        self._session = session
        # Every request through the proxy, if one applies; its credentials apart from
        # its URL so that no aiohttp object or message carries them in a URL.
        self._proxy = proxy
        self._proxy_url = None if proxy is None else URL(proxy.url)
        self._proxy_auth = None if proxy is None or proxy.user is None else \
            aiohttp.BasicAuth(proxy.user, proxy.password or "")
        self._base_url = base_url.rstrip("/")
        self._host = urlsplit(self._base_url).netloc
        # What a refusal of the key tells to check: the variable, or the key file's path.
        self._key_source = key_source(api_key)
        _check_header_safe(api_key.get_secret_value(), self._key_source)
        self._api_key = api_key
        self._timeout_s = request_timeout_s
        # Built once: a request's URL from the base's already-encoded path and our own
        # path (ASCII digits and names), and its headers; parsing a URL string and
        # encoding the same JSON body again for every row cost more than the rest of
        # our per-request work (bench/overhead.py).
        self._base = URL(self._base_url)
        self._base_path = self._base.raw_path.rstrip("/")
        self._headers = {"x-APIKey": api_key.get_secret_value()}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._bodies: dict[tuple[str, str | None], bytes] = {}

    def __repr__(self) -> str:
        return (f"PartooClient(base_url={self._base_url!r}, api_key=SecretStr('**********'), "
                f"proxy={self._proxy!r})")

    async def update(self, op: Operation) -> int:
        """PATCH one conversation. Returns 200, or raises a `RequestError`."""
        url = self._url(f"/conversations/{op.conversation_id}")
        status, parsed, body = await self._request("PATCH", url, data=self._body(op))
        if isinstance(parsed, dict) and parsed.get("status") == "success":
            return status
        raise self._scrub(Unexpected(f"200 but not Partoo's success answer "
                                     f"({describe(body, parsed)}): check PARTOO_BASE_URL",
                                     http_status=status, may_have_applied=True))

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET `{base_url}{path}`. Returns the JSON object of a 200, or raises."""
        status, parsed, body = await self._request("GET", self._url(path), params=params)
        if isinstance(parsed, dict):
            return parsed
        raise self._scrub(Unexpected(f"200 but not a JSON object ({describe(body, parsed)}): "
                                     "check PARTOO_BASE_URL", http_status=status))

    async def read_conversation(self, conversation_id: int) -> ConversationState:
        """`GET /conversations/{id}` as a state: the one read of a conversation (a guard,
        the undo capture, a read-back, verify). Raises a `RequestError`; `Unexpected`
        for an answer that is not this conversation's (`read_state`)."""
        answer = await self.get(f"/conversations/{conversation_id}")
        try:
            return read_state(answer, conversation_id=conversation_id)
        except Unexpected as exc:
            raise self._scrub(exc) from None  # it quotes the server's id: never the key

    def _url(self, path: str) -> URL:
        """The base URL with `path` (ours: "/conversations/123") after its own path."""
        return self._base.with_path(self._base_path + path, encoded=True)

    def _body(self, op: Operation) -> bytes:
        """The PATCH body, JSON-encoded once per distinct change."""
        change = op.body()
        ((name, value),) = change.items()
        body = self._bodies.get((name, value))
        if body is None:
            if len(self._bodies) >= _BODIES_KEPT:
                self._bodies.clear()
            body = self._bodies[(name, value)] = json.dumps(change).encode()
        return body

    async def _request(self, method: str, url: URL, *, data: bytes | None = None,
                       params: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        """One exchange: (200, parsed JSON or None, raw body), or a `RequestError`.
        `data` is a JSON body (sent as application/json: Partoo answers 415 otherwise)."""
        headers = self._headers if data is None else self._json_headers
        try:
            async with self._session.request(method, url, data=data, params=params,
                                             headers=headers, allow_redirects=False,
                                             proxy=self._proxy_url,
                                             proxy_auth=self._proxy_auth) as resp:
                body = self._scrub_body(await _read_bounded(resp))
                if resp.status == 407 and self._proxy is not None:  # the proxy's, not Partoo's
                    raise Unauthorized(self._proxy_refused(407, resp.reason or ""),
                                       http_status=407)
                parsed = {"status": "success"} if body == _SUCCESS_BODY else parse_json(body)
                raise_for_status(resp.status, resp.reason or "", resp.headers, body, parsed,
                                 key_source=self._key_source)
                return resp.status, parsed, body
        except RequestError as exc:
            raise self._scrub(exc) from None
        except TimeoutError:
            raise NetworkError(f"no answer within {self._timeout_s:g} s (timeout; "
                               f"{_MAY_HAVE_APPLIED})") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise NetworkError(verify_failed(self._host, exc.certificate_error),
                               may_have_applied=False) from None
        except aiohttp.ClientProxyConnectionError as exc:
            assert self._proxy is not None
            raise NetworkError(f"{_cannot_connect(self._proxy.host, exc.os_error)} "
                               f"({self._proxy.shown})", may_have_applied=False) from None
        except aiohttp.ClientConnectorError as exc:
            raise NetworkError(_cannot_connect(self._host, exc.os_error),
                               may_have_applied=False) from None
        except aiohttp.ClientHttpProxyError as exc:
            # No tunnel, nothing sent. A 407 is the proxy's "who are you": the same for
            # every row, so it stops the run as a bad key does.
            text = self._proxy_refused(exc.status, exc.message)
            if exc.status == 407:
                raise Unauthorized(text, http_status=407) from None
            raise NetworkError(text, may_have_applied=False) from None
        except aiohttp.ServerDisconnectedError:
            raise NetworkError("the server closed the connection without an answer "
                               f"({_MAY_HAVE_APPLIED})") from None
        except aiohttp.ClientPayloadError:
            raise NetworkError(f"the answer was cut short (connection lost; "
                               f"{_MAY_HAVE_APPLIED})") from None
        except (aiohttp.ClientOSError, ConnectionError) as exc:
            what = (exc.strerror or type(exc).__name__).lower()
            raise NetworkError(f"the connection broke before an answer came ({what}; "
                               f"{_MAY_HAVE_APPLIED})") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"connection error: {type(exc).__name__}") from None
        except Exception as exc:  # not ours to judge (a bug), but never with the key in it
            safe = self._without_key(exc)
            if safe is exc:
                raise
            raise safe from None

    def _proxy_refused(self, status: int, reason: str) -> str:
        """What a proxy's refusal to open the tunnel (its answer to CONNECT) means."""
        proxy = self._proxy.shown if self._proxy is not None else "the proxy"
        answer = f"{status} {reason}".strip()
        if status == 407:
            return (f"{answer} from {proxy}: it wants a user and password, in its URL "
                    "(http://user:password@host:port); check them if they are there")
        return (f"{proxy} could not open a tunnel to {self._host} ({answer}): check "
                "PARTOO_BASE_URL, and whether the API is to be reached directly (NO_PROXY)")

    def _without_key(self, exc: Exception) -> Exception:
        """`exc` itself, unless its text quotes the key or the proxy's password (a library
        quoting the header it refused, as some do): then a RuntimeError naming it, with
        the secret masked."""
        text, shown = str(exc), repr(exc)
        secrets = [self._api_key.get_secret_value()]
        if self._proxy is not None and self._proxy.password:
            secrets.append(self._proxy.password)
        quoted = [s for s in secrets if len(s) >= _MIN_MASKED and (s in text or s in shown)]
        if not quoted:
            return exc
        for secret in quoted:
            text = text.replace(secret, _MASK)
        return RuntimeError(f"{type(exc).__name__}: {text}")

    def _scrub_body(self, body: bytes) -> bytes:
        """The body with the key masked before any of it is quoted (or cut for quoting)."""
        key = self._api_key.get_secret_value().encode("utf-8", "replace")
        return body.replace(key, _MASK.encode()) if len(key) >= _MIN_MASKED else body

    def _scrub(self, exc: RequestError) -> RequestError:
        """`exc` with the key masked in its message, in case the server echoed it back.

        A key shorter than `_MIN_MASKED` is no secret worth garbling every message for
        (a test key "k" would turn "check" into "chec**********").
        """
        key = self._api_key.get_secret_value()
        if len(key) >= _MIN_MASKED and key in exc.message:
            exc.message = exc.message.replace(key, _MASK)
            exc.args = (exc.message,)
        return exc


def _cannot_connect(host: str, error: OSError) -> str:
    if isinstance(error, socket.gaierror):
        return (f"cannot resolve {host} ({error.strerror or error}): check PARTOO_BASE_URL "
                "and the network")
    if isinstance(error, ConnectionRefusedError):
        return (f"cannot connect to {host}: connection refused (nothing listens there): "
                "check PARTOO_BASE_URL")
    return f"cannot connect to {host}: {error.strerror or error}"


def _check_header_safe(key: str, source: str = "PARTOO_API_KEY") -> None:
    """ConfigError unless the key can travel in an HTTP header as it is.

    aiohttp refuses CR, LF and NUL with a ValueError, and fails on text it cannot encode,
    deep inside the first request; a key read from a file saved on Windows ends in CR.
    The message says where and what kind of character, never which: that is the key's.
    """
    for position, char in enumerate(key, 1):
        if char.isascii() and char.isprintable():
            continue
        where = "at its end" if position == len(key) else f"at position {position}"
        if char == "\r":
            why = "a carriage return (CR): a key copied from a file saved on Windows ends so"
        elif char.isascii():
            why = "a control character (a line break, a tab?): it was pasted with the key"
        elif 0xD800 <= ord(char) <= 0xDFFF:  # how Python keeps a byte that is not UTF-8
            why = "a byte that is not UTF-8 text (the variable was set in another encoding)"
        else:
            why = ("a character that is not ASCII (a typographic or invisible one, copied "
                   "from a web page or a document?): Partoo's keys are plain ASCII")
        raise ConfigError(f"{source} cannot be sent in an HTTP header: {where} it "
                          f"holds {why}. Set the key again, copied from Partoo")


async def _read_bounded(resp: aiohttp.ClientResponse) -> bytes:
    # Partoo's answers are small and say their length: one read, as any client does.
    # Only a body of unknown or large size is read in pieces, up to the cut.
    if resp.content_length is not None and resp.content_length <= _MAX_BODY:
        return await resp.read()
    chunks: list[bytes] = []
    size = 0
    while size < _MAX_BODY:
        chunk = await resp.content.read(_MAX_BODY - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
