"""Whether aioresponses can stand in for the network under the installed aiohttp.

aioresponses 0.7.9 builds `ClientResponse` objects itself and breaks on aiohttp 3.14
(`ClientResponse.__init__` wants a `stream_writer`). The package does not cap aiohttp for
that; the tests that use aioresponses carry `@pytest.mark.aioresponses` and are skipped,
saying why, when a real mocked request fails. `PARTOO_BULK_REQUIRE_AIORESPONSES=1` (CI's
runs under aiohttp<3.14) turns that skip into an error, so they cannot go quietly unrun.
"""

from __future__ import annotations

import asyncio
import os
from importlib import metadata

import pytest

__all__ = ["aioresponses_problem", "skip_where_aioresponses_cannot_work"]

_PROBE_URL = "http://127.0.0.1:9/v2/probe"  # loopback; aioresponses answers before any socket


def aioresponses_problem() -> str | None:
    """Why aioresponses cannot mock a request under this aiohttp; None when it can."""
    import aiohttp

    versions = (f"aioresponses {metadata.version('aioresponses')} with "
                f"aiohttp {aiohttp.__version__}")
    try:
        from aioresponses import aioresponses
    except Exception as exc:  # an import that breaks is the same verdict
        return f"{versions}: cannot import aioresponses ({type(exc).__name__}: {exc})"

    async def probe() -> int:
        async with aiohttp.ClientSession() as session:
            with aioresponses() as mocked:
                mocked.get(_PROBE_URL, status=204)
                async with session.get(_PROBE_URL) as response:
                    return response.status

    try:
        status = asyncio.run(probe())
    except Exception as exc:
        return f"{versions}: a mocked request fails ({type(exc).__name__}: {exc})"
    if status != 204:
        return f"{versions}: a mocked request answered {status}, not the mocked 204"
    return None


def skip_where_aioresponses_cannot_work(items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("aioresponses")]
    if not marked:
        return
    problem = aioresponses_problem()
    if problem is None:
        return
    if os.environ.get("PARTOO_BULK_REQUIRE_AIORESPONSES"):
        raise pytest.UsageError(f"PARTOO_BULK_REQUIRE_AIORESPONSES is set, but {problem}")
    skip = pytest.mark.skip(reason=f"{problem}; install '.[test]' (aiohttp<3.14) to run it")
    for item in marked:
        item.add_marker(skip)
