"""`run --metrics-out PATH.prom`: the run's figures in the node_exporter textfile format,
for the nightly job's alerting.

Made with `prometheus_client` (its own registry, never the process's default one, so
no process or platform metrics leak in; `generate_latest` gives the text) and written
like every other output (`worker.files.atomic`: a temporary file beside PATH, fsynced,
then renamed, never through a link): node_exporter never reads half a file.

Every series is a gauge (a snapshot of one run, replaced by the next) labelled
`bulk_job`, the file's name without `.prom`, so that several jobs on one host, each with
its own file, never collide. `partoo_bulk_finished` is 1 when the run decided every row
(`RunResult.finished`: none left `skipped`, no stop, a canary's included), else 0.
`partoo_bulk_last_success_timestamp_seconds` is the end of the last run that finished;
a run that did not finish carries the previous file's value over, so "no success for
26 h" is one alert rule whatever happened in between.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from worker.core.errors import ConfigError
from worker.core.exitcodes import ExitCode
from worker.core.filepath import check_replaceable, is_special
from worker.core.outcomes import Outcome
from worker.files.atomic import atomic_write
from worker.files.runfiles import tmp_of

__all__ = ["check_metrics_path", "write_metrics"]

_PREFIX = "partoo_bulk_"
_LAST_SUCCESS = _PREFIX + "last_success_timestamp_seconds"


def check_metrics_path(path: Path) -> None:
    """Refuse, before anything is sent, a path node_exporter would ignore or we cannot write."""
    if path.suffix != ".prom":
        raise ConfigError(f"--metrics-out {path}: node_exporter's textfile collector reads "
                          f"only files named *.prom: use {path.with_suffix('.prom').name}")
    check_replaceable(path, "--metrics-out")
    if not path.parent.is_dir():
        raise ConfigError(f"--metrics-out {path}: the folder {path.parent} does not exist: "
                          "create it (node_exporter's --collector.textfile.directory)")
    if not os.access(path.parent, os.W_OK):
        raise ConfigError(f"--metrics-out {path}: the folder {path.parent} is not writable: "
                          "check the permissions")


def write_metrics(path: Path, data: Mapping[str, Any], *, finished_at: float) -> None:
    """`data`: the run's summary (as `--summary-json` writes it). Raises OSError."""
    if is_special(path):  # the summary of a refused run is written too: never over one
        raise OSError(errno.EINVAL, "not a regular file")
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry(auto_describe=True)
    job = path.name.removesuffix(".prom")

    def gauge(name: str, text: str, value: float, **labels: str) -> None:
        g = Gauge(_PREFIX + name, text, ["bulk_job", *labels], registry=registry)
        g.labels(job, *labels.values()).set(value)

    outcomes = data.get("outcomes") or {}
    rows = Gauge(_PREFIX + "rows", "Rows of the job per outcome, as the run's report ends.",
                 ["bulk_job", "outcome"], registry=registry)
    for outcome in Outcome:
        rows.labels(job, outcome.value).set(outcomes.get(outcome.value, 0))
    code = int(data.get("exit_code", ExitCode.COULD_NOT_START))
    gauge("requests", "Requests the run sent (429s and reads included).",
          data.get("requests", 0))
    gauge("http_429_responses", "429 answers the run got (each one paused the run).",
          data.get("http_429", 0))
    gauge("retries", "Requests beyond each row's first, 429s not counted.",
          data.get("retries", 0))
    gauge("wall_time_seconds", "How long the run took.", data.get("wall_time_s", 0.0))
    gauge("exit_code", "The run's exit code (0 all ok, 1 some rows failed or invalid, "
          "2 could not start, 3 aborted or out of its --finish-by window, 130 "
          "interrupted).", code)
    gauge("last_run_timestamp_seconds", "When the run ended (Unix time).", finished_at)
    finished = data.get("finished") is True
    gauge("finished", "1 if the run decided every row (none skipped, no stop), else 0.",
          1 if finished else 0)
    if data.get("stop_kind"):
        gauge("stopped", "1: the run stopped before its end, for this reason (window: "
              "--finish-by closed; unauthorized, breaker, refused, no_progress, report, "
              "internal, canary, interrupted).", 1.0, stop_kind=str(data["stop_kind"]))
    last_success = finished_at if finished else _previous_success(path)
    if last_success is not None:
        gauge("last_success_timestamp_seconds", "When the last run that finished (every "
              "row decided) ended (Unix time).", last_success)
    with atomic_write(path, tmp=tmp_of(path), binary=True) as f:  # RunFiles names the tmp
        f.write(generate_latest(registry))


def _previous_success(path: Path) -> float | None:
    """The last success an earlier run of this file recorded, if it can be read."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = path.read_text(encoding="utf-8")
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == _LAST_SUCCESS:
                    return float(sample.value)
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # no earlier file, or not one of ours: start afresh
    return None
