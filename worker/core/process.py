"""Whose process this is: the `partoo-bulk` command's, or a program's that imports `worker`.

A few start-up savings are right only when no code but ours runs in the process (how
aiohttp is first imported: `worker.partoo.httplib`; pydantic's plugins, below). The
command line's entry point (`worker.cli.program`) claims the process before any command
is imported; a program that uses `worker` as a library (`worker.api`, an Airflow task)
never does, and keeps every library's usual behaviour.
"""

from __future__ import annotations

import os

__all__ = ["claim", "is_ours"]

_ours = False


def claim() -> None:
    """The command line runs this process: nothing else will share its libraries."""
    global _ours
    _ours = True
    # pydantic looks for plugins when it builds its first model: the entry points of every
    # distribution installed, read from disk (5 ms here, 11 ms in Airflow's environment).
    # None of our models uses one. A value the user set is theirs.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def is_ours() -> bool:
    return _ours
