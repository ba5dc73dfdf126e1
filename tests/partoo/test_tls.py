"""The trust of a TLS context on Linux: truststore's own rule (OpenSSL's default paths if
they hold certificates, else the first well-known bundle), plus the named CA files.

Each case builds the context, then makes a real TLS handshake with it over memory
buffers against a server whose certificate comes from a CA made here (trustme): the
context trusts a CA when the handshake succeeds.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from worker.core.errors import ConfigError
from worker.partoo import tls
from worker.partoo.tls import ssl_context

pytestmark = pytest.mark.skipif(sys.platform in ("darwin", "win32"),
                                reason="truststore's store is the OS's own there")

HOST = "api.partoo.test"


@pytest.fixture(autouse=True)
def fresh_contexts():
    """Contexts are cached per process; each case builds its own."""
    ssl_context.cache_clear()
    yield
    ssl_context.cache_clear()


def handshake(client: ssl.SSLContext, ca: trustme.CA, name: str = HOST) -> None:
    """A TLS handshake with a server holding a certificate for `name` from `ca`, over
    memory buffers; raises what the client raises (SSLCertVerificationError)."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(server)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    ours = client.wrap_bio(c_in, c_out, server_hostname=HOST)
    theirs = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        finished = 0
        for end in (ours, theirs):
            try:
                end.do_handshake()
                finished += 1
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if finished == 2:
            return
    raise AssertionError("the handshake did not finish")


def trusts(context: ssl.SSLContext, ca: trustme.CA) -> bool:
    try:
        handshake(context, ca)
    except ssl.SSLCertVerificationError:
        return False
    return True


@pytest.fixture
def cas(tmp_path) -> list[tuple[trustme.CA, Path]]:
    """Three CAs made here, each with its PEM file."""
    made = []
    for i in range(3):
        ca = trustme.CA()
        path = tmp_path / f"ca{i}.pem"
        ca.cert_pem.write_to_path(str(path))
        made.append((ca, path))
    return made


def system(monkeypatch, tmp_path, *, cert_file: Path | None, cert_dir: Path | None,
           candidates: tuple[Path, ...]) -> None:
    """OpenSSL's default file and folder (through the variables OpenSSL reads), and the
    well-known bundles, as a machine of the test's making."""
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file or tmp_path / "no-such-file.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(cert_dir or tmp_path / "no-such-folder"))
    monkeypatch.setattr(tls, "_CA_FILE_CANDIDATES", tuple(map(str, candidates)))


def test_openssls_default_file_is_the_store_when_it_exists(monkeypatch, tmp_path, cas):
    (system_ca, system_file), (other, other_file), _ = cas
    system(monkeypatch, tmp_path, cert_file=system_file, cert_dir=None,
           candidates=(other_file,))
    context = ssl_context()
    assert trusts(context, system_ca) and not trusts(context, other)


def test_openssls_default_folder_is_the_store_when_it_has_hashed_certificates(
        monkeypatch, tmp_path, cas):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command for a certificate's subject hash")
    (system_ca, system_file), (other, other_file), _ = cas
    folder = tmp_path / "certs"
    folder.mkdir()
    subject_hash = subprocess.run([openssl, "x509", "-hash", "-noout", "-in",
                                   str(system_file)], capture_output=True, text=True,
                                  check=True).stdout.strip()
    shutil.copy(system_file, folder / f"{subject_hash}.0")
    system(monkeypatch, tmp_path, cert_file=None, cert_dir=folder, candidates=(other_file,))
    context = ssl_context()
    assert trusts(context, system_ca) and not trusts(context, other)


def test_else_the_first_well_known_bundle_that_exists(monkeypatch, tmp_path, cas):
    (first, first_file), (second, second_file), _ = cas
    folder = tmp_path / "certs"
    folder.mkdir()
    (folder / "README").write_text("no hashed certificate names here\n")
    system(monkeypatch, tmp_path, cert_file=None, cert_dir=folder,
           candidates=(tmp_path / "absent.pem", first_file, second_file))
    context = ssl_context()
    assert trusts(context, first) and not trusts(context, second)


def test_the_named_ca_files_are_trusted_on_top_of_the_store(monkeypatch, tmp_path, cas):
    (system_ca, system_file), (named, named_file), (other, _) = cas
    system(monkeypatch, tmp_path, cert_file=system_file, cert_dir=None, candidates=())
    context = ssl_context(((str(named_file), "ca_bundle (--ca-bundle or PARTOO_CA_BUNDLE)"),))
    assert trusts(context, system_ca) and trusts(context, named)
    assert not trusts(context, other)


def test_the_host_name_is_checked_and_a_certificate_required(monkeypatch, tmp_path, cas):
    (system_ca, system_file), _, _ = cas
    system(monkeypatch, tmp_path, cert_file=system_file, cert_dir=None, candidates=())
    context = ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with pytest.raises(ssl.SSLCertVerificationError, match=r"[Hh]ostname"):
        handshake(context, system_ca, name="elsewhere.test")


def test_a_system_bundle_that_is_not_pem_is_a_clear_error(monkeypatch, tmp_path):
    junk = tmp_path / "ca-bundle.pem"
    junk.write_text("not a certificate\n")
    system(monkeypatch, tmp_path, cert_file=None, cert_dir=None, candidates=(junk,))
    with pytest.raises(ConfigError, match="ca_bundle") as caught:
        ssl_context()
    assert str(junk) in str(caught.value) and "system's CA bundle" in str(caught.value)


def test_the_well_known_bundles_are_truststores():
    """Every bundle the truststore installed beside us knows is in our list, in its
    order: the same trust on any Linux it supports. Ours may know newer ones (an older
    truststore, as CI's lowest versions install, has fewer)."""
    openssl_store = pytest.importorskip("truststore._openssl")
    candidates = getattr(openssl_store, "_CA_FILE_CANDIDATES", None)
    if candidates is None:
        pytest.skip("this truststore names no candidate bundles")
    ours = iter(tls._CA_FILE_CANDIDATES)
    assert all(path in ours for path in candidates), (candidates, tls._CA_FILE_CANDIDATES)


def test_truststore_gives_the_store_on_macos_and_windows(monkeypatch):
    import truststore

    monkeypatch.setattr(sys, "platform", "darwin")
    assert isinstance(ssl_context(), truststore.SSLContext)


def test_a_context_on_linux_does_not_import_truststore(tmp_path):
    probe = ("import json, sys; from worker.partoo.tls import ssl_context; ssl_context(); "
             "print(json.dumps('truststore' in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, check=True, timeout=60)
    assert json.loads(done.stdout) is False
