"""`partoo-bulk simulate`: serve the Partoo simulator on loopback until Ctrl-C."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="serve the Partoo simulator on loopback",
                       description="A Partoo stand-in for trying jobs: key sim-demo-key; "
                       "state and faults under /_sim/.")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--rate-per-minute", type=float, default=300.0,
                   help="the simulated organization's quota (default 300)")
    p.add_argument("--burst", type=int, default=None,
                   help="token-bucket size (default: one minute of quota)")
    p.add_argument("--conversations", type=int, default=1000,
                   help="how many conversations to seed (ids 1..N)")
    p.add_argument("--no-log", action="store_true",
                   help="keep counters only, not a record per request (for benchmarks)")


def handle(args: argparse.Namespace) -> int:
    from worker.simulator import serve_forever

    serve_forever(port=args.port, rate_per_minute=args.rate_per_minute, burst=args.burst,
                  n_conversations=args.conversations, record=not args.no_log)
    return 0
