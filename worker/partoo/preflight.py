"""Before the first request: can the API's address be reached at all?

A wrong host name, a firewall or a stopped simulator would otherwise turn every row into
a `failed` one, each after its retries. One TCP (and TLS) connection, no HTTP request:
it sends nothing, costs no quota and carries no key. Failing it is a start-up error
(exit 2, nothing sent) that names the address and what to check.

Behind a proxy nothing connects to the API directly (a proxy-only network has no route
and often no DNS for it): the connection goes to the proxy, and for an https API it
asks the proxy for the tunnel every request will use (`CONNECT host:443`, with the
proxy's credentials if its URL has them) and makes the TLS handshake through it. For
a plain-http base URL (the simulator) the proxy forwards each request itself, so only
the connection to the proxy is checked.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from urllib.parse import urlsplit

from worker.core.errors import StartupError
from worker.core.urls import Proxy
from worker.partoo.tls import ssl_context, verify_failed

__all__ = ["check_reachable"]

_NOTHING_SENT = "nothing was sent"


async def check_reachable(base_url: str, timeout_s: float, *, proxy: Proxy | None = None,
                          ca_files: tuple[tuple[str, str], ...] = ()) -> None:
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    tls = ssl_context(ca_files) if parts.scheme == "https" else None
    try:
        await asyncio.wait_for(_connect(host, port, tls, proxy, base_url, ca_files),
                               timeout_s)
    except TimeoutError:
        target = proxy.shown if proxy is not None else f"{host}:{port}"
        raise StartupError(f"{target} did not answer within {timeout_s:g} s: check "
                           "PARTOO_BASE_URL, the network or a proxy; nothing was sent") \
            from None


async def _connect(host: str, port: int, tls: ssl.SSLContext | None,
                   proxy: Proxy | None, base_url: str,
                   ca_files: tuple[tuple[str, str], ...]) -> None:
    where = f"{host}:{port}"
    if proxy is None:
        _, writer = await _open(host, port, tls, where, f"PARTOO_BASE_URL ({base_url})")
    else:
        # An https proxy's certificate is checked as the client checks it: the system's
        # store and the ca_bundle files (a company's proxy is often signed by its own CA).
        proxy_tls = ssl_context(ca_files) if proxy.url.startswith("https:") else None
        reader, writer = await _open(proxy.host, proxy.port, proxy_tls, proxy.shown,
                                     proxy.source)
        if tls is not None:
            try:
                await _tunnel(reader, writer, host, port, proxy)
                await _start_tls(writer, tls, host, where)
            except BaseException:
                writer.close()
                raise
    writer.close()
    try:
        await writer.wait_closed()
    except (OSError, ssl.SSLError):
        pass  # closing a connection we only opened to see that we could


async def _open(host: str, port: int, tls: ssl.SSLContext | None, where: str,
                setting: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to `host:port`; `where` names it in messages, `setting` what to check."""
    try:
        return await asyncio.open_connection(host, port, ssl=tls,
                                             server_hostname=host if tls else None)
    except socket.gaierror:
        raise StartupError(f"cannot resolve {host} (the host of {setting}): check its "
                           f"spelling and your DNS; {_NOTHING_SENT}") from None
    except ConnectionRefusedError:
        raise StartupError(f"connection refused by {where} (nothing listens there): check "
                           f"{setting}; for the simulator, is `partoo-bulk simulate` "
                           "running? Nothing was sent") from None
    except ssl.SSLCertVerificationError as exc:
        raise StartupError(f"{verify_failed(where, exc)}; {_NOTHING_SENT}") from None
    except ssl.SSLError as exc:
        raise StartupError(f"the TLS handshake with {where} failed ({exc.reason}): check "
                           f"{setting}; {_NOTHING_SENT}") from None
    except OSError as exc:
        raise StartupError(f"cannot connect to {where} ({exc.strerror or exc}): check "
                           f"{setting} and the network; {_NOTHING_SENT}") from None


async def _tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str,
                  port: int, proxy: Proxy) -> None:
    """Ask the proxy for a tunnel to host:port, as aiohttp does before each connection."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.user is not None or proxy.password is not None:
        pair = f"{proxy.user or ''}:{proxy.password or ''}".encode()
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(pair).decode()}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        raise StartupError(f"{proxy.shown} closed the connection when asked for a tunnel "
                           f"to {target}: is it an HTTP proxy? {_NOTHING_SENT}") from None
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    _, _, rest = status_line.partition(" ")
    code = rest[:3]
    if code == "200":
        return
    answer = rest.strip()[:60] or status_line[:60]
    if code == "407":
        fix = ("it refused the user and password in its URL: check them"
               if proxy.user is not None else
               "it asks for a user and password: give them in its URL "
               "(http://user:password@host:port)")
        raise StartupError(f"{proxy.shown} answered {answer!r}: {fix}; {_NOTHING_SENT}")
    raise StartupError(f"{proxy.shown} could not open a tunnel to {target} (it answered "
                       f"{answer!r}): check PARTOO_BASE_URL, and whether this host is to "
                       f"be reached directly (NO_PROXY); {_NOTHING_SENT}")


async def _start_tls(writer: asyncio.StreamWriter, tls: ssl.SSLContext, host: str,
                     where: str) -> None:
    try:
        await writer.start_tls(tls, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raise StartupError(f"{verify_failed(where, exc)}; {_NOTHING_SENT}") from None
    except ssl.SSLError as exc:
        raise StartupError(f"the TLS handshake with {where} (through the proxy) failed "
                           f"({exc.reason}): check PARTOO_BASE_URL; {_NOTHING_SENT}") \
            from None
    except OSError as exc:
        raise StartupError(f"the tunnel to {where} broke ({exc.strerror or exc}); "
                           f"{_NOTHING_SENT}") from None
