"""`partoo-bulk report R --json`: the report's counts, groups and next steps as one
JSON document (`worker.commands._output` has the rules every document follows)."""

from __future__ import annotations

import argparse
from typing import Any

from worker.commands._output import absolute, document, print_json
from worker.core.outcomes import Outcome
from worker.report.failedjob import RetryPicker
from worker.report.meta import stopped_by
from worker.report.nextsteps import steps
from worker.report.stats import Completion, ReportStats

__all__ = ["report_document"]


def report_document(args: argparse.Namespace, stats: ReportStats, job: list[str] | None,
                    picker: RetryPicker | None, written: int | None, *, torn: bool,
                    resuming: bool, done: Completion, code: int) -> None:
    ranked = sorted(stats.groups.values(), key=lambda g: -g.count)
    failed_job: dict[str, Any] | None = None
    if picker is not None:
        failed_job = {"path": absolute(args.failed), "rows": written,
                      "skipped_included": args.skipped,
                      "left_out_rows": sorted(picker.overridden)}
    print_json(document(
        "report", exit_code=code, report=absolute(args.report),
        job=absolute(job[0]) if job else None, rows=stats.rows,
        finished=done.finished, job_rows=done.job_rows, rows_missing=done.rows_missing,
        stop_kind=done.stop, unfinished=done.explain() or None,
        outcomes={o.value: stats.outcomes[o] for o in Outcome},
        http_statuses={status or "none": n for status, n in sorted(stats.statuses.items())},
        read_back_ok=stats.read_back_ok, already_ok=stats.already_ok,
        failed_on_outage=stats.failed_on_outage,
        error_kinds=len(ranked),
        errors=[{"outcome": g.outcome.value, "message": g.message, "rows": g.count,
                 "first_rows": g.rows, "values_differ": g.varies} for g in ranked[:args.top]],
        next_steps=[{"kind": s.kind, "rows": s.rows, "text": s.text, "commands": s.commands}
                    for s in steps(stats, args.report, job, stop=stopped_by(args.report),
                                   missing=done.rows_missing)],
        failed_job=failed_job, last_line_torn=torn, resume_under_way=resuming))
