"""Before the first request: can the API's address be reached at all?

A wrong host name, a firewall or a stopped simulator would otherwise turn every row into
a `failed` one, each after its retries. One TCP (and TLS) connection, no HTTP request:
it sends nothing, costs no quota and carries no key. Failing it is a start-up error
(exit 2, nothing sent) that names the address and what to check.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from urllib.parse import urlsplit

from worker.core.errors import StartupError

__all__ = ["check_reachable"]


async def check_reachable(base_url: str, timeout_s: float) -> None:
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{host}:{port}"
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=parts.scheme == "https"
                                    or None, server_hostname=host
                                    if parts.scheme == "https" else None),
            timeout_s)
    except socket.gaierror:
        raise StartupError(f"cannot resolve {host} (the host of PARTOO_BASE_URL "
                           f"{base_url}): check its spelling and your DNS; nothing was "
                           "sent") from None
    except ConnectionRefusedError:
        raise StartupError(f"connection refused by {where} (nothing listens there): check "
                           f"PARTOO_BASE_URL ({base_url}); for the simulator, is "
                           "`partoo-bulk simulate` running? Nothing was sent") from None
    except TimeoutError:
        raise StartupError(f"{where} did not answer within {timeout_s:g} s: check "
                           "PARTOO_BASE_URL, the network or a proxy; nothing was sent") \
            from None
    except ssl.SSLError as exc:
        raise StartupError(f"the TLS handshake with {where} failed ({exc.reason}): check "
                           "PARTOO_BASE_URL; nothing was sent") from None
    except OSError as exc:
        raise StartupError(f"cannot connect to {where} ({exc.strerror or exc}): check "
                           "PARTOO_BASE_URL and the network; nothing was sent") from None
    writer.close()
    try:
        await writer.wait_closed()
    except (OSError, ssl.SSLError):
        pass  # closing a connection we only opened to see that we could
