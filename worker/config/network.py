"""How a command reaches the API: through which proxy, trusting which extra CAs.

The proxy is the `proxy` setting (`--proxy`, `PARTOO_PROXY`, `proxy` in the config
file), else the variable every HTTP client reads for the base URL's scheme
(`https_proxy` / `HTTPS_PROXY` for https, `http_proxy` / `HTTP_PROXY` for http, the
lower-case spelling first as curl and Python read them), else `all_proxy` /
`ALL_PROXY`. `NO_PROXY` (`no_proxy`) applies to all of them, as it does to curl's `-x`:
a comma-separated list of host names, domain suffixes (`.corp`, `corp`) and IP
addresses (no CIDR ranges), or `*` for every host. Python's own reading of it
(`urllib.request.proxy_bypass_environment`) decides.

Plain http (the simulator on loopback) is allowed only when the whole way is on this
machine: a proxy that is not on loopback would get every request, the key in clear
text, and is refused before anything is sent (`ConfigError`, exit 2).

The extra CAs are `ca_bundle` (`--ca-bundle`, `PARTOO_CA_BUNDLE`), and `SSL_CERT_FILE`
when it is set: OpenSSL (so the store on Linux, `worker.partoo.tls`) reads that one
itself, the macOS and Windows trust stores do not.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from worker.config.settings import Settings, is_loopback
from worker.core.errors import ConfigError
from worker.core.urls import Proxy

__all__ = ["ca_files", "proxy_for"]

PROXY_SETTING = "--proxy, PARTOO_PROXY or proxy in a config file"


def proxy_for(s: Settings) -> Proxy | None:
    """The proxy requests to `s.base_url` go through, or None (direct). Raises
    `ConfigError` for a proxy variable that is not a proxy URL (never showing it)."""
    parts = urlsplit(s.base_url)
    if s.proxy is not None:
        text, source = s.proxy.get_secret_value(), PROXY_SETTING
    else:
        text, source = _from_environment(parts.scheme)
    if not text:
        return None
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    if no_proxy.strip() and urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
            parts.netloc, {"no": no_proxy}):
        return None
    try:
        proxy = Proxy.parse(text, source)
    except ValueError as exc:
        raise ConfigError(f"{source}: not a proxy URL ({exc}); for example "
                          "http://proxy.example.com:3128") from None
    if parts.scheme == "http" and not is_loopback(proxy.host):
        # The base URL passed its own check as loopback, but the proxy, not this
        # machine, would get the requests: an https proxy too sees each one whole.
        raise ConfigError(
            f"PARTOO_BASE_URL {s.base_url} is plain http, allowed only when the whole way "
            f"is on this machine, but requests would go through {proxy.shown}, which is "
            "not on loopback: the API key would cross the network in clear text. Use an "
            f"https base URL, add {parts.hostname} to NO_PROXY, or use a proxy on "
            "loopback; nothing was sent")
    return proxy


def ca_files(s: Settings) -> tuple[tuple[str, str], ...]:
    """(path, the setting that named it) of each PEM file trusted on top of the system's
    store."""
    files = []
    if s.ca_bundle is not None:
        files.append((str(s.ca_bundle), "ca_bundle (--ca-bundle or PARTOO_CA_BUNDLE)"))
    cert_file = os.environ.get("SSL_CERT_FILE", "")
    if cert_file and Path(cert_file).is_file():
        files.append((cert_file, "SSL_CERT_FILE"))
    return tuple(files)


def _from_environment(scheme: str) -> tuple[str, str]:
    """The first proxy variable set for `scheme`: (its value, its name)."""
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        value = os.environ.get(name, "").strip()
        if value:
            return value, name
    return "", ""
