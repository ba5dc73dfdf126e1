"""Output for scripts: `--json` documents on stdout, and `-` for stdin / stdout.

Every `--json` document is one JSON object on stdout with `schema_version` (bumped only
when a key changes meaning or goes away; new keys may appear in any version),
`tool_version` and `command`; paths are absolute. On an error the document holds
`exit_code` and `error` instead (the message is on stderr too).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from worker.core.stdio import is_stdio

__all__ = ["SCHEMA_VERSION", "absolute", "add_json_flag", "document", "print_json",
           "private_folder", "spool_stdin"]

SCHEMA_VERSION = 1


def add_json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print one JSON document on stdout instead of the text (for "
                   "scripts; README: JSON output)")


def document(command: str, **fields: Any) -> dict[str, Any]:
    from worker import __version__

    return {"schema_version": SCHEMA_VERSION, "tool_version": __version__,
            "command": command, **fields}


def print_json(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False), flush=True)


def absolute(path: Path | str | None) -> str | None:
    if path is None:
        return None
    return str(path) if is_stdio(path) else str(Path(path).absolute())


def spool_stdin(folder: Path) -> Path:
    """Read all of stdin once into a private file in `folder`: the job is then read as
    often as a command needs (a pipe can be read only once)."""
    out = folder / "stdin.csv"
    with open(out, "wb") as f:
        shutil.copyfileobj(sys.stdin.buffer, f)
    return out


def private_folder() -> tempfile.TemporaryDirectory[str]:
    """A folder only we can read (mode 700), removed when done."""
    return tempfile.TemporaryDirectory(prefix="partoo-bulk-")
