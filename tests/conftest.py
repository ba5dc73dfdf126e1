"""Shared fakes: a behavioural sender for the engine, and helpers to build operations."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from worker.breaker import Breaker
from worker.engine import Engine
from worker.operations import Action, Operation
from worker.outcomes import Result
from worker.ratelimit import RateLimiter
from worker.retry import RetryPolicy

SECRET = "sk-test-5f1d9c0e-DO-NOT-LEAK"


@dataclass
class FakeSender:
    """Answers per conversation from a script (exceptions to raise, or 200), then 200.

    Records when each request started and ended (loop time), and the most requests
    that were ever in flight at once.
    """

    latency_s: float = 0.05
    script: dict[int, list[object]] = field(default_factory=dict)
    calls: list[tuple[float, float, int, dict]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    async def __call__(self, op: Operation) -> int:
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency_s)
            steps = self.script.get(op.conversation_id)
            answer = steps.pop(0) if steps else 200
            if isinstance(answer, BaseException):
                raise answer
            return 200
        finally:
            self.in_flight -= 1
            self.calls.append((start, loop.time(), op.conversation_id, op.body()))


def ops(n: int, *, first_id: int = 1, action: Action = Action.CLOSE) -> list[Operation]:
    return [Operation(row=i + 1, conversation_id=first_id + i, action=action)
            for i in range(n)]


async def run_engine(items, sender, *, rate_per_minute=6000.0, burst=1, concurrency=4,
                     max_attempts=3, window=5000, breaker=None, budget_s=900.0,
                     stop_after=None) -> tuple[Engine, list[Result]]:
    limiter = RateLimiter(rate_per_minute, burst)
    policy = RetryPolicy(max_attempts=max_attempts, rate_limit_budget_s=budget_s,
                         max_retry_after_s=120.0)
    engine = Engine(sender, limiter, policy, concurrency=concurrency, window=window,
                    breaker=breaker)
    results: list[Result] = []
    await engine.run(items, results.append)
    return engine, results


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


__all__ = ["SECRET", "Breaker", "FakeSender", "ops", "run_engine"]
