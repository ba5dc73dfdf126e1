"""The floor for start-up: the least process that sends one PATCH with aiohttp.

Imports aiohttp, opens a session, sends one PATCH and exits: what any aiohttp client pays
from its start to its first request. `bench/startup.py` shows partoo-bulk's start-up
against it (and against `python -c pass`).

    python bench/first_request.py URL
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp


async def main(base_url: str) -> None:
    async with aiohttp.ClientSession() as session, session.patch(
            f"{base_url}/conversations/1", json={"status": "closed"},
            headers={"x-APIKey": "sim-demo-key"}) as resp:
        await resp.read()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
