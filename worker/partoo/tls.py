"""The TLS context of every connection to the API (the client's and the preflight's).

Certificates are checked against the operating system's trust store: on macOS the
keychain and on Windows the system store, through `truststore` (what pip uses); Python's
default context reads only OpenSSL's file, so a company's TLS-inspection CA installed in
the macOS or Windows store would be refused. Elsewhere (Linux, the BSDs) the system's
store is OpenSSL's own, and the context is a plain one loaded here by truststore's own
rule (`_load_system_store`): the same trust, read once. truststore would read it again
at every connection (its `_configure_context` runs at each `wrap_socket` / `wrap_bio`):
40-50 ms of CPU per TLS connection for a 220 KB bundle, the event loop stalled meanwhile,
64 times as a run at concurrency 64 ramps up. PEM files named by `ca_bundle` (and
`SSL_CERT_FILE`) are trusted as well (`worker.config.network.ca_files`).

A certificate that cannot be verified is the operator's to fix (a missing CA), so its
message names the setting: `verify_failed` says it for the client and the preflight.
"""

from __future__ import annotations

import os
import re
import ssl
import sys
from functools import lru_cache

from worker.core.errors import ConfigError

__all__ = ["ssl_context", "verify_failed"]

# Where truststore's store is not OpenSSL's (the platform names truststore itself tells
# apart, by `platform.system()`).
_OS_STORES = ("darwin", "win32")

# truststore's list (0.10, `truststore/_openssl.py`, from certifi-system-store), in its
# order: the first that exists is the store when OpenSSL's default paths hold nothing.
# tests/partoo/test_tls.py checks it against the installed truststore's.
_CA_FILE_CANDIDATES = (
    "/etc/ssl/cert.pem",  # Alpine, Arch, Fedora 34-43, OpenWRT, RHEL 9-10, BSD
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora 44+, RHEL 11+
    "/etc/pki/tls/cert.pem",  # Fedora <= 34, RHEL <= 9, CentOS <= 9
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu (ca-certificates)
    "/etc/ssl/ca-bundle.pem",  # SUSE
)
_HASHED_CERT_NAME = re.compile(r"^[0-9a-fA-F]{8}\.[0-9]$")


@lru_cache(maxsize=4)
def ssl_context(ca_files: tuple[tuple[str, str], ...] = ()) -> ssl.SSLContext:
    """A client context on the system's store plus `ca_files` ((path, setting) pairs).
    Built once per set of files and process: loading a store costs tens of milliseconds."""
    if sys.platform in _OS_STORES:
        import truststore  # only here, and only for a command that connects

        context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        # PROTOCOL_TLS_CLIENT: CERT_REQUIRED and check_hostname, as truststore's.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        _load_system_store(context)
    for path, setting in ca_files:
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{setting} {path}: cannot be read as PEM CA certificates "
                              f"({_why(exc)}): name a file of -----BEGIN CERTIFICATE----- "
                              "blocks") from None
    return context


def _load_system_store(context: ssl.SSLContext) -> None:
    """truststore's rule on OpenSSL (`_configure_context`), applied once: OpenSSL's
    default paths when they hold certificates (the file exists, or the folder has hashed
    certificate names; SSL_CERT_FILE and SSL_CERT_DIR are read there), else the first
    well-known bundle that exists."""
    defaults = ssl.get_default_verify_paths()
    if defaults.cafile or (defaults.capath and _holds_hashed_certs(defaults.capath)):
        context.set_default_verify_paths()
        return
    for cafile in _CA_FILE_CANDIDATES:
        if os.path.isfile(cafile):
            try:
                context.load_verify_locations(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"the system's CA bundle {cafile} cannot be read "
                                  f"({_why(exc)}): reinstall the CA certificates package, "
                                  "or name a PEM file of CAs with ca_bundle "
                                  "(--ca-bundle or PARTOO_CA_BUNDLE)") from None
            return


def _holds_hashed_certs(capath: str) -> bool:
    try:
        return any(_HASHED_CERT_NAME.match(name) for name in os.listdir(capath))
    except OSError:  # not a folder (as truststore's check), or not one we may read
        return False


def _why(exc: OSError | ssl.SSLError) -> object:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc


def verify_failed(where: str, exc: BaseException) -> str:
    """What to say when the server's certificate at `where` could not be verified."""
    why = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or "refused"
    return (f"the TLS certificate of {where} could not be verified ({why}). If your "
            "network inspects TLS, its CA must be in the system's trust store, or name "
            "its PEM file with ca_bundle (--ca-bundle, PARTOO_CA_BUNDLE or ca_bundle in "
            "the config file); check PARTOO_BASE_URL too")
