"""What to do after reading a report: the commands to copy, with this report's paths.

The job a report belongs to is read from its `.meta.json` (written by `run` before the
first request); without it, the commands say JOB. Whose fault a failed row is comes from
its `fault` cell, as the run decided it (`worker.core.errors.Fault`): `report` never
decides again by status, so its advice is the breaker's.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from worker.core.outcomes import Outcome
from worker.core.stops import StopReason
from worker.core.text import counted, plural
from worker.files.runfiles import RunFiles
from worker.report.stats import ReportStats

__all__ = ["NextStep", "job_words", "next_steps", "retry_failed_advised", "retry_name",
           "retry_written", "steps"]


@dataclass(frozen=True)
class NextStep:
    kind: str  # "fix_job", "resume", "retry_refused", "retry_outage", "fix_invalid",
    # "review_changed"
    rows: int
    text: str  # what to do, before the commands
    commands: list[str] = field(default_factory=list)  # to copy, in order

    def __str__(self) -> str:
        return self.text + "".join(f"\n      {c}" for c in self.commands)

def job_words(report: Path) -> list[str] | None:
    """`JOB [--action ...|--assign ...]` as the run that wrote `report` had them."""
    try:
        meta = json.loads(RunFiles.of(report).meta.read_text(encoding="utf-8"))
        words = [str(meta["job_path"])]
        if meta.get("override"):
            action, user = meta["override"]
            words += ["--assign", user] if action == "assign" else ["--action", action]
        return words
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no meta (a report from elsewhere): the advice says JOB


def retry_name(report: Path) -> Path:
    """`x.report.csv` -> `x.retry.csv`, beside it."""
    stem = report.name.removesuffix(".csv").removesuffix(".report")
    return report.with_name(stem + ".retry.csv")


def retry_failed_advised(stop: StopReason | None, failed_on_outage: int) -> bool:
    """Does the command that goes on need `--retry-failed`? When the run stopped for its
    failed rows (the breaker, no progress, refusals all alike: the rows failed for the run, not for
    themselves), or rows failed on an outage: once the cause is fixed, they go again."""
    return (stop in (StopReason.BREAKER, StopReason.REFUSED, StopReason.NO_PROGRESS)
            or failed_on_outage > 0)


def steps(stats: ReportStats, report: Path, job: list[str] | None, *,
          stop: StopReason | None = None, missing: int = 0) -> list[NextStep]:
    """What to do next, most urgent first, with the commands for this report. `stop`: why
    the run stopped, as its meta says (`worker.report.meta.stopped_by`); `missing`: the
    job's rows not yet in the report (`worker.report.stats`)."""
    o = stats.outcomes
    job = job or ["JOB"]
    run = ["partoo-bulk", "run", *job, "--report", str(report)]
    found = []
    outage = stats.failed_on_outage
    refused = o[Outcome.FAILED] - outage
    skipped = o[Outcome.SKIPPED]
    again = shlex.join([*run, "--resume", "--retry-failed"])
    if stop is StopReason.REFUSED and refused:
        # Its rows were all refused alike: the job is wrong, fixing rows one by one is not
        # the way (nor is --failed, which would leave the skipped ones behind).
        found.append(NextStep("fix_job", refused, f"the run stopped: the {refused} rows it "
                              "sent were all refused the same way, so the job (the base URL, "
                              "the key's access, the action), not each row, is what to fix: "
                              "the error says what came back. Once fixed, send them again "
                              "with the rest:",
                              [again]))
        refused = 0
    elif outage:
        # One command sends the rows that failed on the outage, the skipped ones and those
        # not yet in the report.
        rest = (f", and {skipped} skipped (the run stopped before them)" if skipped else "")
        rest += f", and {missing} not yet in the report" if missing else ""
        found.append(NextStep("retry_outage", outage + skipped + missing, f"{outage} failed "
                              "on the server's side (5xx, 429, timeouts, or answers that are "
                              "not Partoo's API: a wrong PARTOO_BASE_URL, a proxy; the error "
                              f"says which){rest}: not the rows' fault. Fix the address if the "
                              "error says so; once the API is well, send them again in place:",
                              [again]))
    elif skipped or missing:
        said = [f"{missing} not yet in the report"] if missing else []
        said += [f"{skipped} skipped"] if skipped else []
        why = "the run did not finish" if missing else "not finished, the run stopped"
        found.append(NextStep("resume", skipped + missing, f"{' and '.join(said)}: {why}. "
                              "Finish it (rows already done are kept, not sent again):",
                              [shlex.join([*run, "--resume"])]))
    if refused:
        retry = str(retry_name(report))
        write = shlex.join(["partoo-bulk", "report", str(report), "--failed", retry])
        found.append(NextStep("retry_refused", refused, f"{refused} failed because the API "
                              "refused them (4xx): the error says why. Fix the cause (user, "
                              "access, id), then send only the failed rows:",
                              [write, shlex.join(["partoo-bulk", "run", retry])]))
    if o[Outcome.INVALID]:
        found.append(NextStep("fix_invalid", o[Outcome.INVALID], f"{o[Outcome.INVALID]} "
                              f"invalid: never sent. Fix them in {job[0]} (the error column "
                              "says how; `partoo-bulk plan` lists them)"))
    if o[Outcome.CHANGED]:
        # Not a failure, and nothing to retry: the job is out of date for these rows.
        found.append(NextStep("review_changed", o[Outcome.CHANGED], f"{o[Outcome.CHANGED]} "
                              "changed since the job was made (someone wrote, took or "
                              "closed the conversation): not sent, on purpose. The error "
                              "column says what it holds now; if the change is still "
                              "wanted, build the job again (partoo-bulk select) rather "
                              "than retry"))
    return found


def next_steps(stats: ReportStats, report: Path, job: list[str] | None, *,
               stop: StopReason | None = None, missing: int = 0) -> str:
    if not stats.rows and not missing:
        return "no rows yet: the run has not written any (or the job was empty)"
    found = steps(stats, report, job, stop=stop, missing=missing)
    if not found:
        return "every row is ok: nothing to do"
    return "next:\n" + "\n".join(f"  - {s}" for s in found)


def retry_written(out: Path, written: int, overridden: set[int], kinds: str) -> str:
    lines = [f"wrote {written} {kinds} {plural(written, 'row')} to {out}, a job "
             "file (rows in the report's order)"]
    if overridden:
        rows = sorted(overridden)
        shown = ", ".join(map(str, rows[:5])) + (", …" if len(rows) > 5 else "")
        lines.append(f"left out {counted(len(rows), 'row')} that a later "
                     "row of the same conversation overrode with success (sending them now "
                     f"would undo it): {plural(len(rows), 'row')} {shown}")
    if written:
        quoted = shlex.quote(str(out))
        lines.append(f"once the cause is fixed: partoo-bulk plan {quoted} && "
                     f"partoo-bulk run {quoted}")
    else:
        lines.append(f"nothing to send again ({out} has the header only)")
    return "\n".join(lines)
