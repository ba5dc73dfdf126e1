"""The TLS context of every connection to the API (the client's and the preflight's).

Certificates are checked against the operating system's trust store through
`truststore` (what pip uses): on macOS the keychain, on Windows the system store, on
Linux OpenSSL's system bundle. Python's default context reads only OpenSSL's file, so a
company's TLS-inspection CA installed in the macOS or Windows store would be refused.
PEM files named by `ca_bundle` (and `SSL_CERT_FILE`) are trusted as well
(`worker.config.network.ca_files`).

A certificate that cannot be verified is the operator's to fix (a missing CA), so its
message names the setting: `verify_failed` says it for the client and the preflight.
"""

from __future__ import annotations

import ssl
from functools import lru_cache

from worker.core.errors import ConfigError

__all__ = ["ssl_context", "verify_failed"]


@lru_cache(maxsize=4)
def ssl_context(ca_files: tuple[tuple[str, str], ...] = ()) -> ssl.SSLContext:
    """A client context on the system's store plus `ca_files` ((path, setting) pairs).
    Built once per set of files: loading a store costs milliseconds."""
    import truststore  # only for a command that connects (not for --help or plan)

    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for path, setting in ca_files:
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            why = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
            raise ConfigError(f"{setting} {path}: cannot be read as PEM CA certificates "
                              f"({why}): name a file of -----BEGIN CERTIFICATE----- "
                              "blocks") from None
    return context


def verify_failed(where: str, exc: BaseException) -> str:
    """What to say when the server's certificate at `where` could not be verified."""
    why = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or "refused"
    return (f"the TLS certificate of {where} could not be verified ({why}). If your "
            "network inspects TLS, its CA must be in the system's trust store, or name "
            "its PEM file with ca_bundle (--ca-bundle, PARTOO_CA_BUNDLE or ca_bundle in "
            "the config file); check PARTOO_BASE_URL too")
