"""`partoo-bulk report R`: what a run did, at a glance; the failed rows as a new job."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from worker.commands._flags import FILE, add_dialect_flag, file_arg, positive_int
from worker.commands._output import add_json_flag
from worker.core import process
from worker.core.filepath import is_stdio

if TYPE_CHECKING:
    from worker.report.failedjob import RetryPicker
    from worker.report.reader import ReportFile
    from worker.report.stats import ReportStats

__all__ = ["add_parser", "handle"]

EXAMPLES = """\
examples:
  partoo-bulk report moves.report.csv                       # counts and top errors
  partoo-bulk report R.csv --top 25                         # more kinds of error
  partoo-bulk report R.csv --failed retry.csv               # failed rows as a new job
  partoo-bulk report R.csv --failed retry.csv --skipped     # ... and the unfinished ones
  partoo-bulk plan retry.csv && partoo-bulk run retry.csv   # after fixing the cause
  partoo-bulk report R.csv --json | jq .outcomes            # for a script
  partoo-bulk report R.csv --failed - | wc -l               # the failed rows on stdout

--failed leaves out a failed row when a later row of the same conversation changed the
same thing (status, or assignee) successfully: sending it now would undo that change.
Exit codes: 0 the report was read and its run finished; 3 read, but the run did not
finish (rows skipped, or not yet in the report: killed or under way; --resume finishes
it); 2 it could not be read (or OUT could not be written).
environment: none but PARTOO_DEBUG=1 (tracebacks for internal errors): nothing is sent.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="summarise a report; write its failed rows as a job",
                       description="Read a report written by `partoo-bulk run`: rows per "
                       "outcome, per HTTP status, and the most frequent errors with the "
                       "rows to look at.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report", type=Path, metavar="R", help="a report (JOB.report.csv)"
                   ).complete = FILE  # type: ignore[attr-defined]
    p.add_argument("--top", type=positive_int, default=10, metavar="N",
                   help="kinds of error to show (default 10)")
    p.add_argument("--failed", type=file_arg, metavar="OUT",
                   help="write the failed rows to OUT, as a job file to run again (- for "
                   "stdout; the summary then goes to stderr)").complete = FILE  # type: ignore[attr-defined]
    p.add_argument("--skipped", action="store_true",
                   help="with --failed: the skipped rows too (those a stopped run left)")
    p.add_argument("--overwrite", action="store_true", help="with --failed: replace OUT")
    add_dialect_flag(p, "with --failed: OUT's CSV dialect", "the report's own delimiter "
                     "and BOM")
    add_json_flag(p)


def handle(args: argparse.Namespace) -> int:
    from worker.core.errors import ConfigError
    from worker.core.exitcodes import ExitCode
    from worker.core.outcomes import Outcome
    from worker.files.runfiles import RunFiles
    from worker.report.failedjob import RetryPicker, check_out_path
    from worker.report.meta import stopped_by
    from worker.report.nextsteps import job_words
    from worker.report.reader import open_report
    from worker.report.stats import EXIT_UNFINISHED, ReportStats, completion

    if args.skipped and args.failed is None:
        raise ConfigError("--skipped goes with --failed OUT (it adds the skipped rows to OUT)")
    if args.csv_dialect is not None and args.failed is None:
        raise ConfigError("--csv-dialect goes with --failed OUT (it says how OUT is written; "
                          "the report is read as it is, in either dialect)")
    to_stdout = args.failed is not None and is_stdio(args.failed)
    if to_stdout and args.json:
        raise ConfigError("--json and --failed - both write to stdout: write the failed "
                          "rows to a file (--failed retry.csv), or drop --json")
    report = open_report(args.report)
    job = job_words(args.report)
    picker = None
    if args.failed is not None:
        if not to_stdout:
            check_out_path(args.failed, args.report, Path(job[0]) if job else None,
                           args.overwrite)
        picked = {Outcome.FAILED} | ({Outcome.SKIPPED} if args.skipped else set())
        picker = RetryPicker(report, frozenset(picked))
    stats = ReportStats()
    with contextlib.nullcontext() if picker is None else picker:  # its spill, if any
        _read(report, stats, picker)
        partial = RunFiles.of(args.report).partial
        resuming = partial.exists()
        if resuming:
            print(f"partoo-bulk: note: {partial.name} is beside it: a resumed "
                  f"run is under way, or was stopped. {args.report.name} shows the rows as they "
                  "were before it; finishing the run (--resume) brings them together",
                  file=sys.stderr)
        if report.torn:
            print(f"partoo-bulk: note: the last line of {args.report} was cut short (the run "
                  "was killed while writing it) and is left out; --resume sends that row again",
                  file=sys.stderr)
        written = None if picker is None else _write_failed(args, picker)
    done = completion(args.report, stats)
    code = ExitCode.OK if done.finished else EXIT_UNFINISHED
    if args.json:
        from worker.commands._report_json import report_document

        report_document(args, stats, job, picker, written, torn=report.torn,
                        resuming=resuming, done=done, code=code)
        return code
    text = sys.stderr if to_stdout else sys.stdout  # stdout holds the rows then
    print(f"{args.report}: {stats.describe(args.top)}", file=text)
    if not done.finished:
        print(done.explain(), file=text)
    if picker is None:
        from worker.report.nextsteps import next_steps

        print(next_steps(stats, args.report, job, stop=stopped_by(args.report),
                         missing=done.rows_missing), file=text)
    else:
        from worker.report.nextsteps import retry_written

        kinds = "failed or skipped" if args.skipped else "failed"
        print(retry_written(args.failed, written or 0, picker.overridden, kinds), file=text)
    return code


def _read(report: ReportFile, stats: ReportStats, picker: RetryPicker | None) -> None:
    """One pass over the report, for the counts and the retry job at once."""
    # A million lines are a million lists: the cycle collector would walk them again and
    # again (a third of the CPU of `report`), and they hold no cycle (freed as they go).
    # The collector is the process's: switched off only in our own (`worker.core.process`).
    switched_off = gc.isenabled() and process.is_ours()
    if switched_off:
        gc.disable()
    try:
        for lines in report.chunks():
            stats.add_lines(lines)
            if picker is not None:
                picker.see_lines(lines)
    finally:
        if switched_off:
            gc.enable()


def _write_failed(args: argparse.Namespace, picker: RetryPicker) -> int:
    """The picked rows to --failed OUT (or stdout), whole or not at all, with the one
    job-file writer. Returns how many."""
    from worker.core.errors import ConfigError
    from worker.files.csvdialect import DialectChoice
    from worker.jobfile.writer import open_job_writer
    from worker.report.failedjob import retry_header, write_retry_rows

    out = args.failed
    # The report's own dialect unless told: a retry job opens where its report did.
    # `report` reads no settings (it needs none): only the flag changes it.
    dialect = DialectChoice(args.csv_dialect or "auto").resolve(picker.report.dialect)
    try:
        with open_job_writer(out, retry_header(picker), overwrite=args.overwrite,
                             flag="--failed", neutralise_cells=False,
                             dialect=dialect) as writer:
            written = write_retry_rows(picker, writer)
            writer.commit()
    except OSError as exc:
        if is_stdio(out):
            raise  # stdout itself, not a file to fix
        raise ConfigError(f"--failed {out}: cannot write the job file ({exc.strerror}): "
                          "check that the folder exists and is writable") from None
    return written
