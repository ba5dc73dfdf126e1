"""`R.meta.json`: which job a report R belongs to, so `--resume` never mixes two jobs.

Written atomically before the first request: the job file's SHA-256 and size, the
action override (`--action`/`--assign`), the `--undo-out` path; never the key. A resume
whose job, flags or undo file differ is refused with what differs and what to do.
It also holds `rows`, the job's row count, and `ended`: false from the start of each run
(a fresh one or a resume) until it ends, when `stop` records why it stopped (a
`StopReason` value, or null when it went through). So `report` can tell a report that
is short of rows (a kill -9, a run under way) from a finished one
(`worker.report.stats`), and advise for the run, not only for its rows.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from worker.core.errors import ReportError
from worker.core.operations import Override
from worker.core.stops import StopReason
from worker.files.atomic import write_text
from worker.files.runfiles import RunFiles

__all__ = ["check_same_job", "ended", "fingerprint", "job_rows", "read_meta", "record_start",
           "record_stop", "stopped_by", "write_meta"]

_FORMAT = 1


def fingerprint(job_path: Path, override: Override | None, *,
                known: tuple[str, int] | None = None) -> dict[str, object]:
    """`known`: the job's (SHA-256, size) when the caller has them already, as the run's
    pinned copy does (`worker.jobfile.pinned`): one pass over a big job, not two."""
    if known is None:
        digest = hashlib.sha256()
        size = 0
        with open(job_path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        known = digest.hexdigest(), size
    return {"format": _FORMAT, "job_sha256": known[0], "job_size": known[1],
            "override": None if override is None else [override.action.value, override.value]}


def write_meta(report: Path, meta: dict[str, object], job_path: Path, *, rows: int) -> None:
    """A fresh run's meta, before its first request: `rows` is the job's row count."""
    _write(report, {**meta, "job_path": str(job_path.resolve()), "rows": rows,
                    "stop": None, "ended": False})


def record_start(report: Path, *, rows: int) -> None:
    """A resume begins: until it says otherwise (a kill -9 never will), not ended. `rows`:
    the job's (the same job, as `check_same_job` made sure), for a meta written before
    the count was kept."""
    _update(report, stop=None, ended=False, rows=rows)


def record_stop(report: Path, stop: str | None) -> None:
    """Note why the run that just ended stopped (None: it went through)."""
    _update(report, stop=stop, ended=True)


def _update(report: Path, **values: object) -> None:
    # Best effort: the advice of `report` is all that depends on it.
    try:
        _write(report, {**read_meta(report), **values})
    except ReportError:
        pass


def job_rows(report: Path) -> int | None:
    """The job's row count as the meta holds it; None if unknown (no meta, an old one)."""
    try:
        rows = read_meta(report).get("rows")
    except (ReportError, AttributeError):
        return None
    return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


def ended(report: Path) -> bool | None:
    """Did the last run on `report` reach its end (False: killed, or under way)?"""
    try:
        value = read_meta(report).get("ended")
    except (ReportError, AttributeError):
        return None
    return value if isinstance(value, bool) else None


def stopped_by(report: Path) -> StopReason | None:
    """Why the last run on `report` stopped, as `record_stop` noted it; None if unknown."""
    try:
        return StopReason.of(read_meta(report).get("stop"))
    except (ReportError, AttributeError):
        return None


def _write(report: Path, data: dict[str, object]) -> None:
    files = RunFiles.of(report)
    try:
        write_text(files.meta, json.dumps(data, indent=2) + "\n", tmp=files.meta_tmp)
    except OSError as exc:
        raise ReportError(f"{files.meta}: cannot write ({exc.strerror}): check the "
                          "report folder is writable") from None


def read_meta(report: Path) -> dict[str, object]:
    path = RunFiles.of(report).meta
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{report}: cannot resume: {path.name} is missing, so nothing "
                          "says which job this report belongs to. Pass --overwrite to start "
                          "again, or --report NEW_PATH") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: unreadable ({exc}): pass --overwrite to start "
                          "again") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: unreadable (not a JSON object): pass --overwrite to "
                          "start again")
    return data


def check_same_job(report: Path, saved: dict[str, object], now: dict[str, object]) -> None:
    if saved.get("format") != _FORMAT:
        raise ReportError(f"{report}: written by another version of partoo-bulk; pass "
                          "--overwrite to start again")
    if saved.get("job_sha256") != now["job_sha256"]:
        raise ReportError(f"{report}: cannot resume: it belongs to another job file (or "
                          f"the job file changed since: it was {saved.get('job_path')}). "
                          "Resume with the job file as it was, or start a new run with "
                          "--report NEW_PATH")
    if saved.get("undo_out") != now.get("undo_out"):
        raise ReportError(f"{report}: cannot resume: the run had --undo-out "
                          f"{saved.get('undo_out') or '(none)'}; resume with the same "
                          "--undo-out, or the undo file would miss conversations")
    if saved.get("override") != now["override"]:
        raise ReportError(f"{report}: cannot resume: the run used other action flags "
                          f"({_show_override(saved.get('override'))}, now "
                          f"{_show_override(now['override'])}): use the same flags")


def _show_override(value: object) -> str:
    """`fingerprint`'s override, [action, user id] or None, as the flags that gave it."""
    if not isinstance(value, list) or len(value) != 2:
        return "the file's own action columns"
    action, user = value
    return f"--assign {user}" if action == "assign" else f"--action {action}"
