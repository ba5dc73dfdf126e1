"""aiohttp, imported without the two CA-store loads a partoo-bulk process never uses.

When `aiohttp.connector` is first imported it builds its default TLS contexts (verified
and unverified), and each loads the system's CA bundle: with OpenSSL 3 that is 80-90 ms of
CPU apiece on a 2-core VM, over a third of `import aiohttp` and about a quarter of a run's
time to its first request (bench/startup.py). partoo-bulk never connects with them: each
of its TLS connections uses the context of `worker.partoo.tls` (`open_session` hands it to
the connector whenever the base URL or the proxy is https; the preflight uses it
directly), a plain-http run makes no TLS connection, and redirects are never followed.

So in a process the command line has claimed (`worker.core.process`), the first import of
aiohttp skips those loads: its defaults are then contexts that trust no CA, and anything
that did connect with one would be refused, never accepted unchecked. Elsewhere (a
program that imports `worker`, or that imported aiohttp first, or that runs other
threads which could build a context meanwhile) aiohttp is imported as usual: that
program's own sessions rely on those defaults.
"""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from worker.core import process

__all__ = ["aiohttp"]


@contextmanager
def _no_default_stores() -> Iterator[None]:
    """`load_default_certs` and `set_default_verify_paths` do nothing meanwhile. They are
    shadowed on `ssl.SSLContext` (the Python class over the C one), then put back as
    they were: its own method where it defines one, else nothing in its way."""
    cls = ssl.SSLContext
    names = ("load_default_certs", "set_default_verify_paths")
    saved = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    for name in names:
        setattr(cls, name, _skip)
    try:
        yield
    finally:
        for name in names:
            if name in saved:
                setattr(cls, name, saved[name])
            else:
                delattr(cls, name)


def _skip(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
    """No store loaded."""

if process.is_ours() and "aiohttp" not in sys.modules and threading.active_count() == 1:
    with _no_default_stores():
        import aiohttp
else:
    import aiohttp
