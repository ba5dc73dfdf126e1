"""`partoo-bulk plan JOB`: check a job and show what a run would send, sending nothing."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from worker.commands._flags import add_action_flags

__all__ = ["add_parser", "handle"]

EXAMPLES = """\
examples:
  partoo-bulk plan jobs/close-stale.csv                # rows per action, invalid rows, ETA
  partoo-bulk plan ids.txt --action close              # a plain list of ids
  partoo-bulk plan moves.csv --rate-per-minute 120     # ETA at a lower rate
  partoo-bulk plan moves.csv && partoo-bulk run moves.csv --yes   # send only a clean job

exit codes: 0 every row is valid, 1 some rows are invalid, 2 the file cannot be read.
No API key is needed: nothing is sent.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="check a job file and show what a run would send",
                       description="Read the whole job file and show rows per action, "
                       "conversations touched more than once, invalid rows with the fix, "
                       "and how long a run would take. Sends nothing.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("job", type=Path, metavar="JOB", help="job file (CSV, or ids with --action)")
    add_action_flags(p)
    p.add_argument("--rate-per-minute", type=float, metavar="N",
                   help="the rate to estimate the duration at (default: PARTOO_RATE_PER_MINUTE, "
                   "then the config file, then 300)")
    p.add_argument("--undo-out", nargs="?", const=True, metavar="PATH",
                   help="estimate for `run --undo-out PATH` (one extra read per "
                   "conversation)")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="TOML settings file (see config.example.toml)")


def handle(args: argparse.Namespace) -> int:
    from worker.commands._flags import override_from
    from worker.config import load_settings
    from worker.jobfile.plan import make_plan
    from worker.jobfile.reader import open_job

    settings = load_settings(args.config, rate_per_minute=args.rate_per_minute)
    override = override_from(args)
    job = open_job(args.job, override)
    plan = make_plan(job)
    print(f"plan for {job.path} (nothing is sent):")
    print(plan.describe(settings.rate_per_minute, undo=bool(args.undo_out)))
    command = ["partoo-bulk", "run", str(job.path)]
    if override is not None:
        command += (["--assign", override.value] if override.value
                    else ["--action", override.action.value])
    if isinstance(args.undo_out, str):
        command += ["--undo-out", args.undo_out]
    if args.config is not None:
        command += ["--config", str(args.config)]
    if args.rate_per_minute is not None:
        command += ["--rate-per-minute", f"{args.rate_per_minute:g}"]
    if plan.invalid:
        print(f"not clean: fix the invalid rows in {job.path} and plan again; or send the "
              f"rest with `{shlex.join(command)}` (invalid rows are reported, never sent)")
        return 1
    print(f"every row is valid; to send: {shlex.join(command)}")
    return 0
