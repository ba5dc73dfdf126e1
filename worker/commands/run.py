"""`partoo-bulk run JOB`: send a job's changes and write the per-row report."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worker.commands._flags import (
    FILE,
    SETTINGS_ENVIRONMENT,
    add_action_flags,
    add_dialect_flag,
    add_settings_flags,
    file_arg,
    override_from,
    positive_int,
    settings_from,
)
from worker.core.exitcodes import ExitCode

if TYPE_CHECKING:
    from worker.run.request import RunResult

__all__ = ["add_parser", "handle"]

EXAMPLES = """\
examples:
  partoo-bulk run moves.csv                            # shows the plan, asks, sends
  partoo-bulk run moves.csv --canary 20                # 20 rows first, read back, then ask
  partoo-bulk run ids.txt --action close --yes         # a plain list of ids (cron)
  partoo-bulk run moves.csv --report out/moves.report.csv --resume --yes
  partoo-bulk run moves.csv --resume --retry-failed --yes   # after an outage
  partoo-bulk run stale.csv --yes --finish-by 03:00    # nightly: nothing starts after 03:00
  partoo-bulk run stale.csv --yes --log-format json --metrics-out /var/lib/node_exporter/partoo.prom
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="send a job file's changes and write a per-row report",
                       description="Send one PATCH per job row, paced and retried, and "
                       "write one report line per row.",
                       epilog=EXAMPLES + "\n" + SETTINGS_ENVIRONMENT,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("job", type=file_arg, metavar="JOB",
                   help="job file (CSV, or ids with --action); - reads it from stdin (with "
                   "--report), once").complete = FILE  # type: ignore[attr-defined]
    p.add_argument("--report", type=file_arg, help="report path (default: JOB.report.csv)"
                   ).complete = FILE  # type: ignore[attr-defined]
    p.add_argument("--resume", action="store_true",
                   help="continue the run that wrote --report; rows already final are kept")
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume: send the rows whose outcome was failed again")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress output (the summary line is still printed)")
    p.add_argument("--undo-out", type=file_arg, metavar="PATH",
                   help="read each conversation's state before its first change and write "
                   "a job that restores it (one extra GET per conversation; none for a "
                   "guarded row, whose guard's read serves)")
    p.add_argument("--no-guards", action="store_true",
                   help="send guarded rows without reading the conversation first: "
                   "fewer requests, but a conversation that changed since the job was "
                   "made (a customer wrote, an agent took it) is overwritten (README: "
                   "Guards)")
    p.add_argument("--strict", action="store_true",
                   help="refuse to start when any row is invalid")
    p.add_argument("--canary", type=positive_int, default=0, metavar="N",
                   help="send the first N rows, read them back and show what holds, then "
                   "ask before the rest (with --yes: go on only if all N hold, else stop, "
                   "exit 1; --resume sends the rest)")
    p.add_argument("--finish-by", metavar="WHEN",
                   help="no request starts after WHEN: HH:MM (the next such local time), "
                   "an ISO 8601 time, or +DURATION (+45m, +1h30m); the rows not sent by "
                   "then are skipped, exit 3, --resume sends them")
    p.add_argument("--summary-json", type=file_arg, metavar="PATH",
                   help="also write a machine-readable summary (for monitoring)")
    p.add_argument("--metrics-out", type=file_arg, metavar="PATH.prom",
                   help="also write the run's figures for node_exporter's textfile "
                   "collector (atomically; README: Metrics)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log one line per request on stderr (the key is always masked)")
    p.add_argument("--log-format", choices=["text", "json"], default="text",
                   help="json: every line on stderr is a JSON object (progress, requests "
                   "with -v, stops, the summary), for log shippers")
    add_action_flags(p)
    add_dialect_flag(p, "the CSV dialect of the report and --undo-out",
                     "the job's delimiter, and a BOM if it has one; a resumed report keeps "
                     "its own")
    add_settings_flags(p)


def handle(args: argparse.Namespace) -> int:
    from worker.core.errors import RunAborted, StartupError
    from worker.run.paths import PathClash, check_distinct

    started_at = _now()
    refused: set[str] = set()  # monitoring outputs refused: nothing is written to them
    try:
        _check_monitoring_paths(args, refused)
        # Before anything is written, even the summary of an error: no output is the
        # job or another output.
        check_distinct(args.job, _report(args), args.undo_out, args.summary_json,
                       args.metrics_out)
        outcome = _run(args)
    except (StartupError, RunAborted) as exc:
        if isinstance(exc, PathClash):
            refused |= ({"--summary-json"} if exc.summary_json_clash else set()) | \
                       ({"--metrics-out"} if exc.metrics_clash else set())
        _monitoring(args, started_at, {"exit_code": exc.exit_code, "finished": False,
                                       "error": str(exc)}, refused=refused)
        raise
    _monitoring(args, started_at, {
        "exit_code": outcome.exit_code, "finished": outcome.finished,
        "stop_reason": None if outcome.stop is None else outcome.stop.detail,
        "stop_kind": None if outcome.stop is None else outcome.stop.reason.value,
        **outcome.summary.as_dict(outcome.wall_s)}, outcome)
    return outcome.exit_code


def _check_monitoring_paths(args: argparse.Namespace, refused: set[str]) -> None:
    """--summary-json and --metrics-out can be written; one that cannot is `refused`
    (and the error raised): a refused path is never written, not even with the error."""
    from worker.core.errors import ConfigError

    try:
        if args.summary_json is not None:
            _check_writable(args.summary_json, "--summary-json")
    except ConfigError:
        refused.add("--summary-json")
        raise
    if args.metrics_out is not None:
        from worker.run.metrics import check_metrics_path

        try:
            check_metrics_path(args.metrics_out)
        except ConfigError:
            refused.add("--metrics-out")
            raise


def _run(args: argparse.Namespace) -> RunResult:
    from worker.jobfile.pinned import JobSource, resume_name
    from worker.logs import setup_logging
    from worker.run.runner import RunRequest, run

    setup_logging(verbose=args.verbose, fmt=args.log_format, secret=None)
    settings = settings_from(args)
    secret = settings.api_key.get_secret_value() if settings.api_key else None
    from worker.config import proxy_for

    proxy = proxy_for(settings)
    setup_logging(verbose=args.verbose, fmt=args.log_format, secret=secret,
                  also_secret=(proxy.password or "",) if proxy is not None else ())
    override = override_from(args)
    finish_by = None
    if args.finish_by is not None:
        from worker.config.finishby import parse_finish_by

        finish_by = parse_finish_by(args.finish_by)
    report = _report(args)
    hint = ["partoo-bulk", "run", str(resume_name(args.job, report)), "--report",
            str(report), "--resume"]
    if args.undo_out is not None:
        hint += ["--undo-out", str(args.undo_out)]
    if args.no_guards:
        hint += ["--no-guards"]  # the resume sends the rest as this run did
    if args.csv_dialect is not None:
        hint += ["--csv-dialect", args.csv_dialect]  # and writes --undo-out as it would
    if override is not None:
        hint += (["--assign", override.value] if override.value
                 else ["--action", override.action.value])
    req = RunRequest(job=JobSource(args.job, override), settings=settings, report=report,
                     resume=args.resume, retry_failed=args.retry_failed,
                     overwrite=args.overwrite, yes=args.yes, strict=args.strict,
                     quiet=args.quiet, undo_out=args.undo_out, canary=args.canary,
                     resume_hint=shlex.join(hint), guards=not args.no_guards,
                     finish_by=finish_by)
    if args.canary:
        from worker.run.canary import run_with_canary

        return run_with_canary(req)
    return run(req)


def _report(args: argparse.Namespace) -> Path:
    """--report, or JOB.report.csv beside the job; a job read from a stream needs it."""
    from worker.core.errors import ConfigError
    from worker.jobfile.pinned import is_stream
    from worker.run.runner import default_report_path

    if args.report is not None:
        return Path(args.report)
    if is_stream(args.job):
        raise ConfigError(f"{args.job}: a job read from a pipe or stdin needs --report PATH "
                          "(there is no job file to put the report beside); its copy is "
                          "kept beside the report, for --resume")
    return default_report_path(args.job)


def _check_writable(path: Path, flag: str) -> None:
    import os

    from worker.core.errors import ConfigError
    from worker.core.filepath import check_replaceable

    check_replaceable(path, flag)
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"{flag} {path}: the folder {folder} does not exist: create it")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{flag} {path}: not writable: check the permissions")


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")



def _monitoring(args: argparse.Namespace, started_at: str, data: dict[str, Any],
                outcome: RunResult | None = None, *, refused: set[str] | None = None) -> None:
    """The summary, for whatever watches the run: --summary-json, --metrics-out (unless
    `refused`), and under --log-format json a `summary` event."""
    import time

    from worker import __version__, logs
    from worker.files.runfiles import resolve_link  # the files check_distinct checked

    report = args.report or args.job.with_name(args.job.stem + ".report.csv")
    data = {"schema_version": 1, "tool_version": __version__, "run_id": logs.run_id(),
            "job": str(args.job.absolute()), "report": str(report.absolute()),
            "undo_out": None if args.undo_out is None else str(args.undo_out.absolute()),
            "started_at": started_at, "finished_at": _now(), **data}
    refused = refused or set()
    if args.summary_json is not None and "--summary-json" not in refused:
        from worker.run.summary import write_summary_json

        _write("--summary-json", resolve_link(args.summary_json), write_summary_json, data)
    if args.metrics_out is not None and "--metrics-out" not in refused:
        from worker.run.metrics import write_metrics

        finished = time.time()
        _write("--metrics-out", resolve_link(args.metrics_out),
               lambda path, d: write_metrics(path, d, finished_at=finished), data)
    if logs.json_mode() and outcome is not None:
        code = outcome.exit_code
        level = (logs.INFO if code == ExitCode.OK else logs.WARNING
                 if code == ExitCode.FAILED else logs.ERROR)
        fields = {k: v for k, v in data.items() if k not in ("schema_version", "run_id")}
        logs.event("summary", outcome.summary.line(outcome.wall_s, str(report)),
                   level=level, **fields)


def _write(flag: str, path: Path, write: Callable[[Path, dict[str, Any]], None],
           data: dict[str, Any]) -> None:
    from worker import logs

    try:
        write(path, data)
    except OSError as exc:
        logs.event("output_error", f"partoo-bulk: cannot write {flag} {path} "
                   f"({exc.strerror})", level=logs.ERROR, path=str(path))
