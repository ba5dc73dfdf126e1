"""The Python API: `partoo-bulk run` as a call, for orchestrator tasks, threads and notebooks.

    import worker
    result = worker.run_job("moves.csv", settings={"rate_per_minute": 120})
    result.exit_code, result.counts["failed"], result.report

`arun_job` takes the same arguments and is awaited on the caller's loop (a notebook, an
async task); `run_job` runs it on a loop of its own, so it works in any thread but not
inside a running loop (it says so, rather than failing on `asyncio.run`). Both are the
CLI's run, with the CLI's report, resume rules and exit codes, minus what belongs to a
terminal: they never ask (as if --yes), never install a signal handler (the host owns
its signals; cancel the task to stop it), never configure logging (records go to the
`partoo_bulk` logger and on to the host's handlers) and print nothing unless `echo=True`.

A run that cannot start raises `StartupError` (`ConfigError`, `JobFileError`,
`ReportError`): nothing was sent and an earlier report is as it was. A started run whose
report cannot be written raises `RunAborted`. A run that stopped (a bad key, the circuit
breaker) is a result, not an exception: `exit_code` 3 and `stop_reason`. Cancelled, it
stops at once; its report is valid up to its last line, and `resume=True` finishes it.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from worker.config import Settings, load_settings
from worker.config.finishby import parse_finish_by
from worker.core.errors import ConfigError, PartooBulkError, RunAborted, StartupError
from worker.core.filepath import file_path, is_stdio
from worker.core.operations import make_override
from worker.core.outcomes import Outcome
from worker.jobfile.pinned import JobSource, is_stream
from worker.run.paths import check_distinct
from worker.run.request import RunRequest, RunResult
from worker.run.runner import arun, default_report_path

__all__ = ["JobResult", "PartooBulkError", "RunAborted", "Settings", "StartupError",
           "arun_job", "run_job"]

PathArg = str | os.PathLike[str]


@dataclass(frozen=True)
class JobResult:
    """How a run ended. `counts` has every outcome (ok, failed, invalid, skipped)."""

    exit_code: int  # the CLI's: 0 all ok, 1 some failed or invalid, 3 aborted or window closed
    counts: dict[str, int]  # outcome -> rows, rows kept from an earlier report included
    report: Path  # absolute
    stop_reason: str | None = None  # why the run stopped before its end, if it did
    stop_kind: str | None = None  # the same as a word to decide on: "unauthorized", ...
    requests: int = 0  # requests this run sent (429s and reads included)
    wall_s: float = 0.0


def run_job(job: PathArg, *, report: PathArg | None = None, action: str | None = None,
            assign: str | None = None, resume: bool = False, retry_failed: bool = False,
            overwrite: bool = False, settings: Settings | Mapping[str, Any] | None = None,
            echo: bool = False, guards: bool = True,
            finish_by: str | datetime | None = None) -> JobResult:
    """Run a job file and wait for its end; from any thread, outside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(arun_job(
            job, report=report, action=action, assign=assign, resume=resume,
            retry_failed=retry_failed, overwrite=overwrite, settings=settings, echo=echo,
            guards=guards, finish_by=finish_by))
    raise RuntimeError("worker.run_job() was called inside a running event loop (an async "
                       "task, or a notebook cell): use `await worker.arun_job(...)` there; "
                       "it takes the same arguments")


async def arun_job(job: PathArg, *, report: PathArg | None = None,
                   action: str | None = None, assign: str | None = None,
                   resume: bool = False, retry_failed: bool = False,
                   overwrite: bool = False,
                   settings: Settings | Mapping[str, Any] | None = None,
                   echo: bool = False, guards: bool = True,
                   finish_by: str | datetime | None = None) -> JobResult:
    """`run_job` on the running loop.

    `job` is a job file (or a plain list of ids, with `action` or `assign`); `report`
    defaults to JOB.report.csv beside it; `resume`, `retry_failed` and `overwrite` are
    the CLI's flags. `settings` is a `Settings`, or a mapping of its fields that win over
    the PARTOO_* environment and the config files, as flags do (None means "not given").
    `guards=False` is `--no-guards`: guarded rows are sent without reading the
    conversation first (README: Guards).
    `finish_by` is `--finish-by`: "03:00", "+45m", an ISO 8601 time, or a `datetime`
    (naive: local); the run then ends with `stop_kind` "window" and exit code 3 if
    rows are left, which `resume=True` sends.
    """
    values = _settings(settings)
    deadline = None if finish_by is None else parse_finish_by(finish_by, flag="finish_by")
    values.require_api_key("the changes are made as the Partoo user of the key",
                           how="set PARTOO_API_KEY (or PARTOO_API_KEY_FILE) in the "
                           "process's environment, or pass settings={'api_key': ...} read "
                           "from your secrets store")
    # Absolute from here on: a host that changes its working folder (os.chdir) during a
    # run, or between a run and its resume, must not make the run lose its files.
    job_path = _path(job, "job=")
    source = JobSource(job_path, make_override(action, assign))
    if report is not None:
        report_path = _path(report, "report=")
    elif is_stream(job_path):
        raise ConfigError(f"{job_path}: a job read from a pipe or stdin needs report=PATH "
                          "(there is no job file to put the report beside)")
    else:
        report_path = default_report_path(job_path)
    check_distinct(job_path, report_path, None, None)  # no output is the job, say
    result = await arun(RunRequest(
        job=source, settings=values, report=report_path, resume=resume,
        retry_failed=retry_failed, overwrite=overwrite, yes=True, quiet=not echo,
        echo=echo, handle_signals=False, guards=guards, finish_by=deadline))
    return _job_result(result, report_path)


def _path(path: PathArg, what: str) -> Path:
    """A path argument as an absolute path (`-` stays stdin); `ConfigError` for one that
    cannot name a file ("", ".", "out/")."""
    if not isinstance(path, str | os.PathLike):
        raise ConfigError(f"{what} must be a path (a str or a pathlib.Path), not "
                          f"{type(path).__name__}")
    text = file_path(path, what)
    return Path(text) if is_stdio(text) else Path(text).absolute()


def _settings(settings: Settings | Mapping[str, Any] | None) -> Settings:
    if isinstance(settings, Settings):
        return settings
    values = dict(settings or {})
    for name in values:
        if name not in Settings.model_fields:
            close = difflib.get_close_matches(name, list(Settings.model_fields), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"settings: {name!r} is not a setting; {hint}the known ones "
                              f"are {', '.join(Settings.model_fields)}")
    return load_settings(None, **values)


def _job_result(result: RunResult, report: Path) -> JobResult:
    summary = result.summary
    return JobResult(
        exit_code=result.exit_code,
        counts={o.value: summary.outcomes[o] for o in Outcome},
        report=report,
        stop_reason=None if result.stop is None else result.stop.detail,
        stop_kind=None if result.stop is None else result.stop.reason.value,
        requests=summary.requests, wall_s=result.wall_s)
