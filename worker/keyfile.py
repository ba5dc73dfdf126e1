"""The API key from a file: a mounted secret (Kubernetes, Docker, systemd credentials)
named by PARTOO_API_KEY_FILE or `api_key_file`.

The file must be a regular file (a symlink to one is fine: Kubernetes mounts secrets so)
that only its owner may read or write, as ssh demands of a private key: a key that
other users can read is refused, not used with a warning, since it has already leaked
to them. One trailing newline (`echo KEY > file`) is dropped; anything else that is not
the key (a second line, spaces, control characters) is refused. No message ever shows
the key or a part of it.
"""

from __future__ import annotations

import getpass
import os
import stat
from pathlib import Path

from pydantic import SecretStr

from worker.core.errors import ConfigError

__all__ = ["read_key_file"]

_MAX_BYTES = 64 * 1024  # far above any key: a bigger file is not a key file


def read_key_file(path: Path, where: str) -> SecretStr:
    """The key in `path`; `where` names the setting that gave the path. Raises
    `ConfigError` with the fix."""
    name = f"{where} {path}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(f"{name}: no such file: check the path (where is the secret "
                          "mounted?)") from None
    except PermissionError:
        raise ConfigError(f"{name}: permission denied: the file must be readable by the "
                          f"user partoo-bulk runs as ({getpass.getuser()})") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the key file ({exc.strerror})") from None
    try:
        # Checked on the file opened, not on the name: it cannot be swapped in between.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{name}: not a regular file (a folder?): name the file that "
                              "holds the key")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ConfigError(f"{name}: permissions {mode:04o} are too open: other users "
                              f"can read or change the key. Run `chmod 600 {path}` (a "
                              "Kubernetes secret volume: defaultMode: 0400; a Docker "
                              "secret: mode: 0400), and consider the key leaked: rotate it")
        data = os.read(fd, _MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the key file ({exc.strerror})") from None
    finally:
        os.close(fd)
    return SecretStr(_key_in(data, name))


def _key_in(data: bytes, name: str) -> str:
    if len(data) > _MAX_BYTES:
        raise ConfigError(f"{name}: over {_MAX_BYTES // 1024} KB: not a key file (the "
                          "file should hold the key alone)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not UTF-8 text: the file should hold the key alone, "
                          "as text") from None
    key = text.removesuffix("\n").removesuffix("\r")
    if not key.strip():
        raise ConfigError(f"{name}: the file is empty: put the key in it (one line)")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in key):
        raise ConfigError(f"{name}: the file holds more than the key (another line, "
                          "spaces or control characters): keep the key alone, on one line")
    return key
