"""Whose process this is: the `partoo-bulk` command's, or a program's that imports `worker`.

Some settings belong to the whole process, not to a library in it: the cycle collector's
thresholds and `gc.freeze`, the csv module's field-size limit, pydantic's plugin scan.
They are ours to set only when no code but ours runs in the process. The command line's
entry point (`worker.cli.program`: the console script, `python -m worker`) claims the
process before any command is imported, and `claim` sets them, once; a program that uses
`worker` as a library (`worker.api`, an Airflow task, a script; `worker.cli.main` called
from a host) never does, and finds every one of them as it left it (a test in a fresh
interpreter: tests/core/test_process.py).
"""

from __future__ import annotations

import gc
import os

from worker.core import cells

__all__ = ["claim", "is_ours", "settle"]

# The collector's first generation: a pass every 10,000 new objects, not every 700. A
# row's objects are freed by their reference counts, not by the collector, which at its
# default cost 10 us of the 100 a request takes (bench/overhead.py).
_GC_NEW_OBJECTS = 10_000

_ours = False


def claim() -> None:
    """The command line runs this process: nothing else will share its libraries."""
    global _ours
    _ours = True
    # pydantic looks for plugins when it builds its first model: the entry points of every
    # distribution installed, read from disk (5 ms here, 11 ms in Airflow's environment).
    # None of our models uses one. A value the user set is theirs.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    cells.set_field_limit()
    gc.set_threshold(_GC_NEW_OBJECTS, *gc.get_threshold()[1:])


def settle() -> None:
    """The program is about to send: what it has built so far (modules, settings, the
    job's plan) lives as long as the process, so it is moved out of the collector's full
    passes (each ~10 ms otherwise, which at high rates bunch requests together). Only in a
    process `claim`ed: a host's objects and its collector are its own. Only the young
    generations are collected first: a full pass over what the imports made costs 25-60 ms."""
    if _ours:
        gc.collect(1)
        gc.freeze()


def is_ours() -> bool:
    return _ours
