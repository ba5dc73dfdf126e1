"""URLs that may hold a secret (a proxy's `user:password@`), and how one is shown.

`shown_url` is the one way any message, log line or repr writes such a URL: the
user and password become `***@`, a query or fragment `?…`. `Proxy` is the proxy a
command sends through, with where it was set (`PARTOO_PROXY`, `HTTPS_PROXY`, ...):
its repr and `str` never show the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["Proxy", "shown_url"]


def shown_url(url: str) -> str:
    """`url` without what may be secret: `http://***@proxy:3128`, `https://host/v2?…`."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # an unclosed IPv6 bracket: show none of it, it may hold a secret
        return "(not a URL)"
    if not parts.scheme or not parts.netloc:
        return "(not a URL)"
    host = parts.netloc.rpartition("@")[2]
    hidden = "***@" if "@" in parts.netloc else ""
    rest = "?…" if parts.query or parts.fragment else ""
    return f"{parts.scheme}://{hidden}{host}{parts.path}{rest}"


@dataclass(frozen=True, repr=False)
class Proxy:
    """A forward proxy: `url` (scheme, host and port), the credentials apart."""

    url: str  # http(s)://host:port, no user or password
    source: str  # the setting it came from: "PARTOO_PROXY", "HTTPS_PROXY", ...
    user: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str, source: str) -> Proxy:
        """A checked `Proxy`; ValueError (without the password) if `url` is not one.
        A URL without a scheme is http, as curl takes it (`HTTPS_PROXY=proxy:3128`)."""
        text = url.strip()
        if "://" not in text:
            text = "http://" + text
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{parts.scheme}:// proxies are not supported: give an http:// "
                             "(or https://) proxy URL")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("its port must be a number from 1 to 65535") from None
        if not parts.hostname:
            raise ValueError("it names no host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("a proxy URL is scheme://[user:password@]host:port, no path")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        where = f"{host}:{port or (443 if parts.scheme == 'https' else 80)}"
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(f"{parts.scheme}://{where}", source, user, password)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    @property
    def shown(self) -> str:
        """How messages name it: `the proxy http://***@proxy:3128 (HTTPS_PROXY)`."""
        hidden = "***@" if self.user is not None or self.password is not None else ""
        scheme, _, where = self.url.partition("://")
        return f"the proxy {scheme}://{hidden}{where} ({self.source})"

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return f"Proxy({self.shown!r})"
