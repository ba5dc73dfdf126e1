"""`partoo-bulk plan JOB`: check a job and show what a run would send, sending nothing."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from worker.commands._flags import CONFIG_ENVIRONMENT, FILE, SettingsHelp, add_action_flags
from worker.commands._output import add_json_flag
from worker.core.exitcodes import ExitCode
from worker.core.filepath import is_stdio

if TYPE_CHECKING:
    from worker.jobfile.plan import Plan

__all__ = ["add_parser", "handle"]

EXAMPLES = """\
examples:
  partoo-bulk plan jobs/demo.csv                       # rows per action, invalid rows, ETA
  partoo-bulk plan ids.txt --action close              # a plain list of ids
  partoo-bulk plan moves.csv --rate-per-minute 120     # ETA at a lower rate
  partoo-bulk plan stale.csv --finish-by 03:00         # does it fit before 03:00?
  partoo-bulk plan moves.csv && partoo-bulk run moves.csv --yes   # send only a clean job
  partoo-bulk plan moves.csv --json | jq .invalid      # for a script
  cut -d, -f1 export.csv | partoo-bulk plan - --action close   # a job on stdin

exit codes: 0 every row is valid, 1 some rows are invalid, 2 the file cannot be read.
No API key is needed: nothing is sent.

environment: PARTOO_RATE_PER_MINUTE (the rate of the estimate), PARTOO_CONFIG,
XDG_CONFIG_HOME, PARTOO_DEBUG=1 (tracebacks for internal errors).
""" + CONFIG_ENVIRONMENT


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plan", help="check a job file and show what a run would send",
                       description="Read the whole job file and show rows per action, "
                       "conversations touched more than once, invalid rows with the fix, "
                       "and how long a run would take. Sends nothing.", epilog=EXAMPLES,
                       formatter_class=SettingsHelp)
    p.add_argument("job", type=Path, metavar="JOB", help="job file (CSV, or ids with "
                   "--action); - reads it from stdin").complete = FILE  # type: ignore[attr-defined]
    add_action_flags(p)
    p.add_argument("--rate-per-minute", type=float, metavar="N",
                   help="the rate to estimate the duration at; else PARTOO_RATE_PER_MINUTE, "
                   "else the config file's"
                   ).setting = "rate_per_minute"  # type: ignore[attr-defined]
    p.add_argument("--undo-out", nargs="?", const=True, metavar="PATH",
                   help="estimate for `run --undo-out PATH` (one extra read per "
                   "conversation)")
    p.add_argument("--no-guards", action="store_true",
                   help="estimate for `run --no-guards` (guarded rows sent without the "
                   "read before their change)")
    p.add_argument("--finish-by", metavar="WHEN",
                   help="say whether `run --finish-by WHEN` fits the job, and how many rows "
                   "it reaches if not (HH:MM, an ISO 8601 time, or +DURATION)")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="TOML settings file (see config.example.toml; default: "
                   "$PARTOO_CONFIG)").complete = FILE  # type: ignore[attr-defined]
    add_json_flag(p)


def handle(args: argparse.Namespace) -> int:
    from worker.commands._output import private_folder, spool_stdin
    from worker.core.errors import JobFileError

    if not is_stdio(args.job):
        return _plan(args, args.job, str(args.job))
    with private_folder() as folder:
        spooled = spool_stdin(Path(folder))
        try:
            return _plan(args, spooled, "stdin")
        except JobFileError as exc:  # name what the operator gave, not our private copy
            raise JobFileError(str(exc).replace(str(spooled), "stdin (-)")) from None


def _plan(args: argparse.Namespace, path: Path, shown: str) -> int:
    from worker.commands._flags import override_from
    from worker.jobfile.plan import make_plan
    from worker.jobfile.reader import open_job

    rate = _rate_per_minute(args)
    window = None
    if args.finish_by is not None:
        from worker.config import finishby

        when = finishby.parse_finish_by(args.finish_by)
        window = (finishby.shown(when), finishby.seconds_left(when))
    override = override_from(args)
    job = open_job(path, override)
    plan = make_plan(job)
    command = ["partoo-bulk", "run", "JOB" if shown == "stdin" else shown]
    if override is not None:
        command += (["--assign", override.value] if override.value
                    else ["--action", override.action.value])
    if isinstance(args.undo_out, str):
        command += ["--undo-out", args.undo_out]
    if args.no_guards:
        command += ["--no-guards"]
    if args.config is not None:
        command += ["--config", str(args.config)]
    if args.rate_per_minute is not None:
        command += ["--rate-per-minute", f"{args.rate_per_minute:g}"]
    if args.finish_by is not None:
        command += ["--finish-by", args.finish_by]
    code = ExitCode.FAILED if plan.invalid else ExitCode.OK
    if args.json:
        _print_document(args, plan, rate, shlex.join(command), code,
                        window)
        return code
    print(f"plan for {shown} (nothing is sent):")
    print(plan.describe(rate, undo=bool(args.undo_out),
                        guards=not args.no_guards, window=window))
    save = "save it to a file, then " if shown == "stdin" else ""
    if plan.invalid:
        print(f"not clean: fix the invalid rows in {shown} and plan again; or send the "
              f"rest: {save}`{shlex.join(command)}` (invalid rows are reported, never sent)")
    else:
        print(f"every row is valid; to send: {save}{shlex.join(command)}")
    return code


def _rate_per_minute(args: argparse.Namespace) -> float:
    """The rate of the estimate: the settings' (flags > environment > files > default).
    With nothing that sets a setting (an exported key aside: plan needs none and does
    not check it), the default as it is: the settings model (pydantic) is not built for
    the common `plan JOB`."""
    from worker.config import defaults

    if args.rate_per_minute is None and defaults.untouched(args.config):
        rate: float = defaults.default("rate_per_minute")
        return rate
    from worker.config import load_settings

    # No key: plan sends nothing, and a key file is not read (a pipe there would hang).
    return load_settings(args.config, read_key=False,
                         rate_per_minute=args.rate_per_minute).rate_per_minute


def _print_document(args: argparse.Namespace, plan: Plan, rate: float, command: str,
                    code: int, window: tuple[str, float] | None) -> None:
    from worker.commands._output import absolute, document, print_json
    from worker.core.operations import Action

    undo, guards = bool(args.undo_out), not args.no_guards
    fit = None
    if window is not None:
        est = plan.estimate(rate, undo=undo, guards=guards, window_s=window[1])
        fit = {"finish_by": window[0], "window_s": round(window[1], 1), "fits": est.fits,
               "rows_to_send": est.rows, "rows_reached": est.rows_reached}
    print_json(document(
        "plan", exit_code=code, job=absolute(args.job), rows=plan.rows,
        actions={a.value: plan.actions[a.value] for a in Action}, invalid=plan.invalid,
        invalid_examples=[{"row": e.row, "message": e.message}
                          for e in plan.invalid_examples],
        conversations=plan.conversations, repeated_conversations=plan.repeated,
        repeated_examples=[{"conversation_id": cid, "rows": [
            {"row": t.row, "action": t.action, "value": t.value} for t in touches]}
            for cid, touches in plan.repeated_examples.items()],
        requests=plan.total_requests(undo=undo, guards=guards),
        undo_reads=plan.undo_reads(undo, guards), guarded_rows=plan.guarded,
        guards=guards, guard_reads=plan.guard_reads(guards), rate_per_minute=rate,
        estimated_duration_s=round(plan.estimate_s(rate, undo=undo, guards=guards), 1),
        clean=not plan.invalid, window=fit, run_command=command))
