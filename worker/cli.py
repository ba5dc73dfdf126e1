"""The command line: parse, load settings, delegate. No logic of its own.

Imports of the heavy modules (aiohttp, pydantic) happen inside the commands, so that
`partoo-bulk --help` answers at once.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from worker import __version__

__all__ = ["main"]

_EPILOG = """\
examples:
  partoo-bulk run jobs/close-stale.csv --yes
  partoo-bulk run ids.txt --action close --report out/ids.report.csv
  partoo-bulk run jobs/reassign.csv --report jobs/reassign.report.csv --resume --yes
  partoo-bulk demo

environment: PARTOO_API_KEY (required for run), PARTOO_BASE_URL, PARTOO_RATE_PER_MINUTE,
PARTOO_CONCURRENCY, PARTOO_MAX_ATTEMPTS, PARTOO_REQUEST_TIMEOUT_S (see README.md).
exit codes: 0 all ok, 1 some rows failed or invalid, 2 could not start (nothing sent),
3 aborted (bad key, API down), 130 interrupted.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="partoo-bulk", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Change thousands of Partoo conversations at once, safely.",
        epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"partoo-bulk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="send a job file's changes and write a per-row report",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG)
    run.add_argument("job", type=Path, metavar="JOB", help="job file (CSV, or ids with --action)")
    run.add_argument("--report", type=Path, help="report path (default: JOB.report.csv)")
    run.add_argument("--resume", action="store_true",
                     help="continue the run that wrote --report; rows already final are kept")
    run.add_argument("--retry-failed", action="store_true",
                     help="with --resume: send the rows whose outcome was failed again")
    run.add_argument("--overwrite", action="store_true", help="replace an existing report")
    run.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    run.add_argument("-q", "--quiet", action="store_true",
                     help="no progress output (the summary line is still printed)")
    _action_flags(run)
    _settings_flags(run)

    demo = sub.add_parser("demo", help="run jobs/demo.csv against the bundled simulator")
    demo.add_argument("--report", type=Path, default=Path("partoo-bulk-demo.report.csv"),
                      help="where to write the demo report (overwritten each time)")

    sim = sub.add_parser("simulate", help="serve the Partoo simulator on loopback")
    sim.add_argument("--port", type=int, default=8080)
    sim.add_argument("--rate-per-minute", type=float, default=300.0)
    sim.add_argument("--conversations", type=int, default=1000)
    return parser


def _action_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--action", choices=["close", "open", "unassign"],
                       help="the action for every id of a plain list of ids")
    group.add_argument("--assign", metavar="USER_ID",
                       help="assign every id of a plain list of ids to this user")


def _settings_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML settings file (see config.example.toml)")
    p.add_argument("--rate-per-minute", type=float, help="requests per minute (default 300)")
    p.add_argument("--concurrency", type=int, help="requests in flight at most (default 8)")
    p.add_argument("--max-attempts", type=int, help="requests per row on transient errors")
    p.add_argument("--request-timeout-s", type=float, help="seconds per request (default 30)")
    p.add_argument("--base-url", help="API base URL (default https://api.partoo.co/v2)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("partoo-bulk: interrupted before anything was sent", file=sys.stderr)
        return 130
    except Exception as exc:
        from worker.errors import RunAborted, StartupError

        if isinstance(exc, StartupError | RunAborted):
            print(f"partoo-bulk: {exc}", file=sys.stderr)
            return exc.exit_code
        if os.environ.get("PARTOO_DEBUG"):
            raise
        print(f"partoo-bulk: internal error ({type(exc).__name__}): {exc}\n"
              "This is a bug; set PARTOO_DEBUG=1 for details. If a run was under way, "
              "its report is valid up to its last line: finish with --resume.",
              file=sys.stderr)
        return 3


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "demo":
        from worker.demo import demo

        return demo(args.report)
    if args.command == "simulate":
        from worker.simulator import serve_forever

        serve_forever(port=args.port, rate_per_minute=args.rate_per_minute,
                      n_conversations=args.conversations)
        return 0
    raise AssertionError(args.command)


def _override(args: argparse.Namespace):  # -> Override | None
    from worker.operations import Action, Override, parse_action

    if args.assign is not None:
        try:
            action, value = parse_action("", args.assign)
        except ValueError as exc:
            from worker.errors import ConfigError

            raise ConfigError(f"--assign: {exc}") from None
        return Override(action, value)
    if args.action is not None:
        return Override(Action(args.action))
    return None


def _run(args: argparse.Namespace) -> int:
    from worker.config import load_settings
    from worker.jobfile import open_job
    from worker.runner import RunRequest, default_report_path, run

    settings = load_settings(args.config, rate_per_minute=args.rate_per_minute,
                             concurrency=args.concurrency, max_attempts=args.max_attempts,
                             request_timeout_s=args.request_timeout_s, base_url=args.base_url)
    override = _override(args)
    job = open_job(args.job, override)
    report = args.report or default_report_path(args.job)
    if args.retry_failed and not args.resume:
        from worker.errors import ConfigError

        raise ConfigError("--retry-failed goes with --resume (it re-sends the failed rows "
                          "of an existing report)")
    hint = ["partoo-bulk", "run", str(args.job), "--report", str(report), "--resume"]
    if override is not None:
        hint += ["--assign", override.value] if override.value else ["--action",
                                                                    override.action.value]
    return run(RunRequest(job=job, settings=settings, report=report, resume=args.resume,
                          retry_failed=args.retry_failed, overwrite=args.overwrite,
                          yes=args.yes, quiet=args.quiet, resume_hint=shlex.join(hint)))
