"""Before a run sends anything: its output files. The report's folder exists
(`check_folders`, before the report's lock is taken beside it); then, under the lock
(`prepare`): nothing is clobbered silently (an earlier report needs --resume or
--overwrite); a resume matches the job, flags and undo file it started with. A fresh
start clears the stale files of an earlier run (partial report, meta, undo journal), but
only once every check has passed (`clear`, just before the first request): a run that
cannot start leaves an earlier report as it was, --overwrite or not.
"""

from __future__ import annotations

from worker.core.errors import ReportError
from worker.jobfile.reader import Job
from worker.report import meta as runmeta
from worker.run.request import RunRequest

__all__ = ["check_folders", "clear", "job_meta", "prepare"]


def check_folders(req: RunRequest) -> None:
    """The report and the undo file can be written where they are asked for."""
    report = req.report
    if not report.parent.is_dir():
        raise ReportError(f"{report}: the folder {report.parent} does not exist: create it "
                          "or pass --report PATH")
    for path in (report, req.undo_out):
        if path is not None and path.exists() and not path.is_file():
            raise ReportError(f"{path}: not a regular file (a device or a folder?): "
                              "pick a file path")
    if req.undo_out is not None and not req.undo_out.parent.is_dir():
        raise ReportError(f"{req.undo_out}: the folder {req.undo_out.parent} does not "
                          "exist: create it or pass another --undo-out")


def prepare(req: RunRequest, job: Job) -> bool:
    """True to resume R; False to start R afresh. Refuses to clobber a report silently.
    Call with the report's lock held (`worker.report.lock`)."""
    report, partial = req.report, req.files.partial
    exists = report.exists() or partial.exists()
    if exists and req.resume:
        saved = runmeta.read_meta(report)
        runmeta.check_same_job(report, saved, job_meta(req, job))
        return True
    if exists and not req.overwrite:
        raise ReportError(f"{report}: a report is already there: pass --resume to continue "
                          "that run, --overwrite to start again, or --report NEW_PATH")
    if req.undo_out is not None and req.undo_out.exists() and not req.overwrite:
        raise ReportError(f"{req.undo_out}: an undo file is already there: pass "
                          "--overwrite to replace it, or another --undo-out")
    return False


def clear(req: RunRequest) -> None:
    """A fresh start (`prepare` said False): remove what an earlier run left."""
    for path in req.files.stale():
        path.unlink(missing_ok=True)


def job_meta(req: RunRequest, job: Job) -> dict[str, object]:
    """What a resume must match: the bytes sent (the job's pinned copy), the flags."""
    undo_out = str(req.undo_out.resolve()) if req.undo_out else None
    return {**runmeta.fingerprint(job.data, job.override, known=job.digest),
            "undo_out": undo_out}
