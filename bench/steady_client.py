"""Another integration on the same quota: PATCHes at a steady rate, whatever happens.

It stands for the organization's CRM sync or chat widget: it neither slows down on a
429 nor retries; it just loses that request. Runs until SIGTERM (or --duration-s), then
prints one JSON line: {"sent": N, "ok": N, "throttled": N, "other": N, "wall_s": S}.

    python bench/steady_client.py --base-url URL --rate-per-minute 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

import aiohttp

KEY = "sim-demo-key"


async def run(base_url: str, rate_per_minute: float, duration_s: float,
              conversations: int) -> dict[str, float]:
    counts = {"sent": 0, "ok": 0, "throttled": 0, "other": 0}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.call_later(duration_s, stop.set)
    interval = 60.0 / rate_per_minute
    tasks: set[asyncio.Task[None]] = set()

    async def one(session: aiohttp.ClientSession, cid: int) -> None:
        try:
            async with session.patch(f"{base_url}/conversations/{cid}",
                                     json={"assigned_user_id": "unassigned"},
                                     headers={"x-APIKey": KEY}) as resp:
                await resp.read()
                key = {200: "ok", 429: "throttled"}.get(resp.status, "other")
        except (aiohttp.ClientError, TimeoutError):
            key = "other"
        counts[key] += 1

    started = loop.time()
    async with aiohttp.ClientSession() as session:
        i = 0
        while not stop.is_set():
            counts["sent"] += 1
            task = asyncio.create_task(one(session, i % conversations + 1))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
            # Absolute schedule: a late wake-up does not lower the rate.
            delay = started + i * interval - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass
        wall = loop.time() - started
        if tasks:
            await asyncio.wait(tasks, timeout=5)
    return {**counts, "wall_s": round(wall, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--rate-per-minute", type=float, required=True)
    parser.add_argument("--duration-s", type=float, default=3600.0)
    parser.add_argument("--conversations", type=int, default=1000)
    args = parser.parse_args()
    started = time.perf_counter()
    result = asyncio.run(run(args.base_url, args.rate_per_minute, args.duration_s,
                             args.conversations))
    result["process_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
