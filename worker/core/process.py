"""Whose process this is: the `partoo-bulk` command's, or a program's that imports `worker`.

A few start-up savings are right only when no code but ours runs in the process (how
aiohttp is first imported: `worker.partoo.httplib`). The command line's entry point
(`worker.cli.program`) claims the process before any command is imported; a program that
uses `worker` as a library (`worker.api`, an Airflow task) never does, and keeps every
library's usual behaviour.
"""

from __future__ import annotations

__all__ = ["claim", "is_ours"]

_ours = False


def claim() -> None:
    """The command line runs this process: nothing else will share its libraries."""
    global _ours
    _ours = True


def is_ours() -> bool:
    return _ours
