"""`partoo-bulk simulate`: serve the Partoo simulator on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import math

from worker.commands._flags import positive_int

__all__ = ["add_parser", "handle"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("simulate", help="serve the Partoo simulator on loopback",
                       description="A Partoo stand-in for trying jobs: key sim-demo-key; "
                       "state and faults under /_sim/.",
                       epilog="example:\n  partoo-bulk simulate --port 8080 &\n"
                       "  PARTOO_API_KEY=sim-demo-key PARTOO_BASE_URL=http://127.0.0.1:8080/v2 "
                       "partoo-bulk run moves.csv\n\nenvironment: none.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=_port, default=8080,
                   help="the loopback port to listen on (default 8080)")
    p.add_argument("--rate-per-minute", type=_rate, default=300.0,
                   help="the simulated organization's quota (default 300)")
    p.add_argument("--burst", type=positive_int, default=None,
                   help="token-bucket size (default: one minute of quota)")
    p.add_argument("--conversations", type=positive_int, default=1000,
                   help="how many conversations to seed (ids 1..N)")
    p.add_argument("--no-log", action="store_true",
                   help="keep counters only, not a record per request (for benchmarks)")


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1 to 65535")
    return port


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if not (rate > 0 and math.isfinite(rate)):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of requests per minute, "
                                         "more than 0")
    return rate


def handle(args: argparse.Namespace) -> int:
    from worker.core.errors import ConfigError
    from worker.simulator import serve_forever

    try:
        serve_forever(port=args.port, rate_per_minute=args.rate_per_minute,
                      burst=args.burst, n_conversations=args.conversations,
                      record=not args.no_log)
    except OSError as exc:
        raise ConfigError(f"simulate: cannot listen on 127.0.0.1:{args.port} "
                          f"({exc.strerror}): pick another --port") from None
    return 0
