"""A stand-in for Partoo's conversations API, for end-to-end tests, the demo and benchmarks.

Faithful where Partoo documents behaviour (its API documentation,
https://developers.partoo.co), adversarial where real life may differ (faults, rate
limits, unknown fields), and it keeps the server-side truth (`SimState`: conversations
plus a log of every request) so tests can assert what the server really did, not what
the client believes.

    async with Simulator(seeded_state(), rate_per_minute=300, burst=10) as sim:
        ...  # PATCH {sim.base_url}/conversations/1 with header x-APIKey: DEMO_API_KEY
        assert sim.state.conversations[1].is_solved

Modules: `model` (the organization's records), `state` (truth and rules), `listing`
(JSON shape, pages), `requestlog` (every request, for tests), `tokenbucket` (the quota),
`faults` (what goes wrong), `answers` (canned HTTP answers), `handlers` (/v2 routes),
`admin` (/_sim routes), `parts` (what handlers need of the server), `server`
(`Simulator`), `app` (thread and foreground runners).
"""

from .app import SimulatorThread, serve_forever
from .faults import Faults
from .requestlog import RequestLog, RequestRecord
from .server import DEMO_API_KEY, Simulator
from .state import (
    ALICE,
    BOB,
    BOT_USER,
    BUSINESS_A,
    BUSINESS_B,
    BUSINESS_C,
    BUSINESSES,
    CAROL,
    INACTIVE_USER,
    LONG_ID_USER,
    RESTRICTED_USER,
    ApiError,
    Conversation,
    SimState,
    User,
    seeded_state,
)
from .tokenbucket import KeyedRateLimiter, TokenBucket

__all__ = [
    "ALICE",
    "BOB",
    "BOT_USER",
    "BUSINESSES",
    "BUSINESS_A",
    "BUSINESS_B",
    "BUSINESS_C",
    "CAROL",
    "DEMO_API_KEY",
    "INACTIVE_USER",
    "LONG_ID_USER",
    "RESTRICTED_USER",
    "ApiError",
    "Conversation",
    "Faults",
    "KeyedRateLimiter",
    "RequestLog",
    "RequestRecord",
    "SimState",
    "Simulator",
    "SimulatorThread",
    "TokenBucket",
    "User",
    "seeded_state",
    "serve_forever",
]
