"""`R.meta.json`: which job a report R belongs to, so `--resume` never mixes two jobs.

Written atomically before the first request: the job file's SHA-256 and size, the
action override (`--action`/`--assign`), the `--undo-out` path; never the key. A resume
whose job, flags or undo file differ is refused with what differs and what to do.
At the end of each run, `stop` records why it stopped (a `StopReason` value, or null
when it finished), so `report` can advise for the run, not only for its rows.
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

__all__ = ["check_same_job", "fingerprint", "read_meta", "record_stop", "stopped_by",
           "write_meta"]

_FORMAT = 1


def fingerprint(job_path: Path, override: Override | None) -> dict[str, object]:
    digest = hashlib.sha256()
    size = 0
    with open(job_path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return {"format": _FORMAT, "job_sha256": digest.hexdigest(), "job_size": size,
            "override": None if override is None else [override.action.value, override.value]}


def write_meta(report: Path, meta: dict[str, object], job_path: Path) -> None:
    _write(report, {**meta, "job_path": str(job_path.resolve())})


def record_stop(report: Path, stop: str | None) -> None:
    """Note why the run that just ended stopped (None: it finished). Best effort: the
    advice of `report` is all that depends on it."""
    try:
        _write(report, {**read_meta(report), "stop": stop})
    except ReportError:
        pass


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
