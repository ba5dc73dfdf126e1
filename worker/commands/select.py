"""`partoo-bulk select`: write a job file from the list API, with filters and an action."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from worker.commands._flags import (
    FILE,
    SETTINGS_ENVIRONMENT,
    add_dialect_flag,
    add_settings_flags,
    file_arg,
    override_from,
    settings_from,
)
from worker.commands._output import add_json_flag
from worker.core.exitcodes import ExitCode
from worker.core.filepath import is_stdio

if TYPE_CHECKING:
    from worker.select.filters import Criteria
    from worker.select.target import Target

__all__ = ["add_parser", "handle"]

EXAMPLES = """\
examples:
  # nightly: close what has had no message for 30 days, then send it
  partoo-bulk select --stale-days 30 --unsolved --action close --out stale.csv --overwrite
  partoo-bulk run stale.csv --yes --overwrite          # (or jobs/close-stale.sh)
  # an agent leaves: deal their unsolved conversations out to the team, in turn
  partoo-bulk select --assigned-to LEAVER_ID --unsolved \\
      --assign-round-robin ID1,ID2,ID3 --out leaver.csv
  # for a script: the job on stdout, or the figures as JSON
  partoo-bulk select --stale-days 30 --action close --out - | partoo-bulk plan -
  partoo-bulk select --stale-days 30 --action close --out stale.csv --json

Filters apply in this order, and stderr shows how many each one kept and dropped. The
action's own rules come last: an expired conversation cannot be re-opened, and one
already in the target state (already solved, already unassigned...) needs no request.
""" + "\n" + SETTINGS_ENVIRONMENT


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("select", help="write a job file from the list API, with filters",
                       description="List conversations (GET /conversations, paced and "
                       "retried like run), keep those that match, and write a job file "
                       "that `partoo-bulk run` sends.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=file_arg, metavar="PATH",
                   help="the job file to write (- for stdout, once the listing is "
                   "complete)").complete = FILE  # type: ignore[attr-defined]
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out (and --undo-out) file")
    p.add_argument("--undo-out", type=file_arg, metavar="PATH",
                   help="also write the job that restores each selected conversation's "
                   "listed state (no extra request)")
    f = p.add_argument_group("filters (all must match)")
    f.add_argument("--business", action="append", metavar="ID[,ID...]",
                   help="only these businesses (repeatable)")
    f.add_argument("--stale-days", type=int, metavar="N",
                   help="no message for N days (last message's date, else creation date)")
    f.add_argument("--as-of", metavar="DATE",
                   help="with --stale-days: count the days back from this UTC date or "
                   "ISO-8601 time instead of now (reproducible selections)")
    solved = f.add_mutually_exclusive_group()
    solved.add_argument("--unsolved", action="store_true", help="only unsolved ones")
    solved.add_argument("--solved", action="store_true", help="only solved ones")
    who = f.add_mutually_exclusive_group()
    who.add_argument("--assigned-to", metavar="USER_ID", help="only this user's")
    who.add_argument("--unassigned", action="store_true", help="only unassigned ones")
    f.add_argument("--skip-expired", action="store_true",
                   help="leave expired conversations out (always done for --action open)")
    a = p.add_argument_group("the action to write (one)").add_mutually_exclusive_group(
        required=True)
    a.add_argument("--action", choices=["close", "open", "unassign"],
                   help="close (solve), re-open or unassign every one")
    a.add_argument("--assign", metavar="USER_ID", help="assign every one to this user")
    a.add_argument("--assign-round-robin", metavar="USER_ID,USER_ID,...",
                   help="assign them in turn to these users: even and deterministic")
    p.add_argument("--per-page", type=int, default=100, metavar="N",
                   help="conversations per list request, 1..100 (default 100: fewest requests)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_json_flag(p)
    add_dialect_flag(p, "the CSV dialect of --out and --undo-out",
                     "comma, as there is no file to follow")
    add_settings_flags(p)


def handle(args: argparse.Namespace) -> int:
    import sys

    from worker.select.pipeline import SelectRequest, select

    to_stdout = is_stdio(args.out)
    if to_stdout and args.json:
        raise _error("--json and --out - both write to stdout: write the job to a file "
                     "(--out stale.csv), or drop --json")
    if args.undo_out is not None and is_stdio(args.undo_out):
        raise _error("--undo-out -: the undo job needs a file of its own (stdout is for "
                     "--out -): name a file, e.g. --undo-out undo.csv")
    settings = settings_from(args)
    criteria = criteria_from(args)
    target = _target(args)
    if not 1 <= args.per_page <= 100:
        raise _error(f"--per-page {args.per_page}: the API takes 1..100")
    if target.fixed_user is not None and target.fixed_user == args.assigned_to:
        raise _error("--assign and --assigned-to name the same user: nothing would change")
    done = select(SelectRequest(settings=settings, criteria=criteria, target=target,
                                out=Path(args.out), overwrite=args.overwrite,
                                per_page=args.per_page, quiet=args.quiet,
                                undo_out=args.undo_out))
    if args.json:
        from worker.commands._output import absolute, document, print_json

        print_json(document("select", exit_code=done.exit_code, out=absolute(args.out),
                            undo_out=absolute(args.undo_out), **done.as_dict()))
    elif done.exit_code == ExitCode.OK:
        print(done.line(), file=sys.stderr if to_stdout else sys.stdout)
    return done.exit_code


def criteria_from(args: argparse.Namespace) -> Criteria:
    from datetime import UTC, datetime, timedelta

    from worker.core.operations import parse_action
    from worker.select.filters import Criteria
    from worker.select.listed import parse_date

    stale_before = None
    if args.stale_days is not None:
        if args.stale_days < 1:
            raise _error(f"--stale-days {args.stale_days}: give a number of days, 1 or more")
        as_of = datetime.now(UTC)
        if args.as_of is not None:
            given = parse_date(args.as_of)
            if given is None:
                raise _error(f"--as-of {args.as_of!r}: not a date: use 2024-05-31 or "
                             "2024-05-31T22:00:00+00:00 (UTC when no offset is given)")
            as_of = given
        try:
            stale_before = as_of - timedelta(days=args.stale_days)
        except (OverflowError, ValueError):  # before year 1: no conversation is that old
            raise _error(f"--stale-days {args.stale_days}: that is before year 1: give a "
                         "number of days a conversation can have been idle") from None
    elif args.as_of is not None:
        raise _error("--as-of only counts with --stale-days N")
    if args.assigned_to is not None:
        try:
            parse_action("", args.assigned_to)
        except ValueError as exc:
            raise _error(f"--assigned-to: {exc}") from None
    return Criteria(businesses=_businesses(args.business or []),
                    solved=True if args.solved else False if args.unsolved else None,
                    assigned_to=args.assigned_to, unassigned=args.unassigned,
                    stale_before=stale_before, stale_days=args.stale_days,
                    skip_expired=args.skip_expired)


def _target(args: argparse.Namespace) -> Target:
    from worker.select.target import Target, parse_team

    if args.assign_round_robin is not None:
        try:
            return Target.rotation(parse_team(args.assign_round_robin, args.assigned_to))
        except ValueError as exc:
            raise _error(f"--assign-round-robin: {exc}") from None
    override = override_from(args)
    if override is None:  # argparse requires one of the action flags; said for the types
        raise _error("give the action to write: --action, --assign or --assign-round-robin")
    return Target.fixed(override)


def _businesses(values: list[str]) -> frozenset[str]:
    ids = [part.strip() for value in values for part in value.split(",")]
    bad = [i for i in ids if not i or any(ch.isspace() for ch in i)]
    if bad:
        raise _error(f"--business {','.join(values)!r}: an empty or spaced business id: "
                     "list ids separated by commas, e.g. --business 4101,4102")
    return frozenset(ids)


def _error(message: str) -> Exception:
    from worker.core.errors import ConfigError

    return ConfigError(message)
