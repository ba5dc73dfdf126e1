"""The API key from a file: a mounted secret (Kubernetes, Docker, systemd credentials)
named by PARTOO_API_KEY_FILE or `api_key_file`; and the one rule for every file a key
can live in (`check_secret_file`: the key file, a config file holding `api_key`).

The rule follows libpq's for key files (PostgreSQL 14 on) and what containers mount:
- refused: a file other users can write (group or world `w`), or one owned by a user
  other than the one partoo-bulk runs as and root: they could swap the key, and so
  choose whose changes go out;
- accepted: owned by the user and readable by it alone (0600, 0400), or owned by root and
  readable by its group (0640, 0440: Kubernetes with `fsGroup`, systemd credentials);
- accepted with a warning: readable by other users (0644 or 0444: Kubernetes' default
  `defaultMode`, behind its `..data` symlinks; Docker secrets, root-owned 0444). Inside a
  container nobody else may be there to read it; elsewhere the key may have leaked, and
  the warning says how to close it.

The file must be a regular file (a symlink to one is fine: Kubernetes mounts secrets so),
checked before it is opened: a named pipe with no writer would block the read forever.
One trailing newline (`echo KEY > file`) is dropped; anything else that is not the key (a
second line, spaces, control characters) is refused. No message ever shows the key or a
part of it, nor a value of PARTOO_API_KEY_FILE or `api_key_file` that names no file: it
may be the key itself, pasted where a path belongs, and no test of its looks tells a
key from a path (keys hold `/`, `.`, and anything a file name can).
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import stat
from pathlib import Path

from pydantic import SecretStr

from worker.core.errors import ConfigError

__all__ = ["Key", "check_secret_file", "file_kind", "key_source", "read_key_file"]

_MAX_BYTES = 64 * 1024  # far above any key: a bigger file is not a key file
_LOG = logging.getLogger("partoo_bulk.config")
_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket",
          stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device"}


class Key(SecretStr):
    """The key, and where it came from (`source`, "the key in /run/secrets/partoo
    (PARTOO_API_KEY_FILE)"): what a refusal of the key (a 401) tells to check, naming
    the setting and the file, never the key. Shown and compared as a `SecretStr`."""

    def __init__(self, secret_value: str, source: str) -> None:
        super().__init__(secret_value)
        self.source = source


def key_source(key: SecretStr) -> str:
    """Where `key` came from, for "check ..." in messages: PARTOO_API_KEY unless said."""
    return key.source if isinstance(key, Key) else "PARTOO_API_KEY"


def file_kind(info: os.stat_result) -> str | None:
    """What a path that is not a regular file is ("a folder", "a character device"), for
    a message; None for a regular file."""
    if stat.S_ISREG(info.st_mode):
        return None
    return _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")


def check_secret_file(info: os.stat_result, name: str, path: Path | None) -> None:
    """The one rule for a file that holds the key (see the module's docstring), on the
    file's `stat`. Raises `ConfigError`; logs a warning for a file others can read.
    `name` says in messages which file it is ("PARTOO_API_KEY_FILE /run/key"); `path` is
    None where it is not to be shown."""
    mode = stat.S_IMODE(info.st_mode)
    me = os.geteuid() if hasattr(os, "geteuid") else info.st_uid
    if mode & 0o022:
        raise ConfigError(f"{name}: permissions {mode:04o} let other users change it, "
                          f"and so choose the key partoo-bulk sends: run `chmod 600 "
                          f"{_quoted(path)}` (a Kubernetes secret volume: defaultMode: "
                          "0400; a Docker secret: mode: 0400)")
    if info.st_uid not in (me, 0):
        raise ConfigError(f"{name}: owned by another user (uid {info.st_uid}), who can "
                          f"change it: it must belong to the user partoo-bulk runs as "
                          f"({getpass.getuser()}) or to root")
    others_read = mode & 0o004 or (mode & 0o040 and info.st_uid != 0)
    if others_read:
        _LOG.warning("partoo-bulk: warning: %s: permissions %04o let other users read "
                     "the key: %s", name, mode, _closing(path, info))


def read_key_file(path: Path, where: str, *, relative_to: Path | None = None) -> SecretStr:
    """The key in `path`; `where` names the setting that gave the path, `relative_to`
    the folder a relative value was read from. Raises `ConfigError` with the fix. The
    path is shown only once it is known to name something."""
    try:
        # Its type first, by name: opening a named pipe would wait for a writer.
        info = os.stat(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in it
        raise ConfigError(_names_nothing(where, exc, relative_to)) from None
    name = f"{where} {path}"
    _check_regular(info, name)
    try:
        # O_NONBLOCK: a pipe swapped in since the stat does not block the open either.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except PermissionError:
        raise ConfigError(f"{name}: permission denied: the file must be readable by the "
                          f"user partoo-bulk runs as ({getpass.getuser()})") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the key file ({exc.strerror})") from None
    try:
        # Checked on the file opened, not on the name: it cannot be swapped in between.
        info = os.fstat(fd)
        _check_regular(info, name)
        check_secret_file(info, name, path)
        data = os.read(fd, _MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the key file ({exc.strerror})") from None
    finally:
        os.close(fd)
    return Key(_key_in(data, name), f"the key in {path} ({where})")


def _names_nothing(where: str, exc: OSError | ValueError, relative_to: Path | None) -> str:
    """What to say of a key file's path that names nothing: never the value."""
    if isinstance(exc, FileNotFoundError):
        what = "no such file"
    elif isinstance(exc, PermissionError):
        what = ("a folder on its way cannot be searched by the user partoo-bulk runs as "
                f"({getpass.getuser()})")
    else:
        what = f"not a path to a file ({getattr(exc, 'strerror', None) or exc})"
    base = f"; a relative path is read from {relative_to}" if relative_to else ""
    return (f"{where}: {what} (its value is not shown: one that names no file may be the "
            f"key itself, pasted where a path belongs{base}): check the path (where is "
            "the secret mounted?); the key itself goes in PARTOO_API_KEY, never here")


def _check_regular(info: os.stat_result, name: str) -> None:
    kind = file_kind(info)
    if kind is not None:
        raise ConfigError(f"{name}: {kind}, not a file: name the file that holds the key")


def _closing(path: Path | None, info: os.stat_result) -> str:
    """How to make the file readable by its owner alone, where it came from."""
    if path is not None and (path.parent / "..data").is_symlink():
        return ("a Kubernetes secret volume: set its defaultMode to 0400 (0440 with the "
                "pod's fsGroup)")
    running_as = os.geteuid() if hasattr(os, "geteuid") else None
    docker = path is not None and "/run/secrets/" in path.as_posix()
    if info.st_uid == 0 and (running_as != 0 or docker):
        return ("a root-owned secret (a Docker secret?): give it mode 0400 and the uid "
                "partoo-bulk runs as (compose: secrets: mode, uid), or 0440 and its gid")
    return f"run `chmod 600 {_quoted(path)}`"


def _quoted(path: Path | None) -> str:
    if path is None:
        return "FILE"
    text = str(path)
    return text if re.fullmatch(r"[\w./~-]+", text) else "'" + text.replace("'", "'\\''") + "'"


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
