"""The baseline for the overhead benchmark: the least code that sends the same PATCHes.

aiohttp, one session, an `asyncio.Semaphore` taken before each task is spawned (so at
most `concurrency` tasks exist), the answer read and checked (200 and Partoo's
`{"status": "success"}`, as any client must). No pacing, no retries, no report, no
timeouts of its own. What `partoo-bulk` adds on top of this is its overhead.

    python bench/bare_loop.py --base-url URL --rows N --concurrency 64
prints one JSON line: {"requests": N, "ok": N, "wall_s": S, "per_s": R}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

KEY = "sim-demo-key"


async def bare_loop(base_url: str, rows: int, concurrency: int,
                    distinct_ids: int) -> dict[str, float]:
    slots = asyncio.Semaphore(concurrency)
    ok = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(cid: int) -> None:
            nonlocal ok
            try:
                async with session.patch(f"{base_url}/conversations/{cid}",
                                         json={"status": "closed"},
                                         headers={"x-APIKey": KEY}) as resp:
                    body = await resp.read()
                    ok += resp.status == 200 and json.loads(body).get("status") == "success"
            finally:
                slots.release()

        started = time.perf_counter()
        tasks = set()
        for i in range(rows):
            await slots.acquire()
            task = asyncio.create_task(one(i % distinct_ids + 1))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - started
    return {"requests": rows, "ok": ok, "wall_s": round(wall, 3),
            "per_s": round(rows / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--distinct-ids", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bare_loop(args.base_url, args.rows, args.concurrency,
                                           args.distinct_ids))), flush=True)


if __name__ == "__main__":
    main()
