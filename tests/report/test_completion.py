"""Is a report's run finished: its rows against the job's count in the meta."""

from __future__ import annotations

from worker.core.stops import StopReason
from worker.report.stats import Completion


def test_a_report_without_a_row_count_in_its_meta_judges_by_its_skipped_rows():
    unknown = Completion(job_rows=None, rows=21, skipped=0, stop=None, ended=None)
    assert unknown.finished and unknown.rows_missing == 0 and unknown.explain() == ""
    killed = Completion(job_rows=61, rows=21, skipped=0, stop=None, ended=False)
    assert not killed.finished and killed.rows_missing == 40 and killed.unfinished_rows == 40
    assert "40 of the job's 61 rows are not yet in the report" in killed.explain()


def test_why_a_run_stopped_reads_as_one_sentence():
    stopped = Completion(job_rows=600, rows=600, skipped=437, stop=StopReason.INTERRUPTED,
                         ended=True)
    assert stopped.explain() == ("the run did not finish: it was interrupted (Ctrl-C or "
                                 "SIGTERM); 437 skipped")
    killed = Completion(job_rows=61, rows=21, skipped=0, stop=None, ended=False)
    assert killed.explain() == ("the run did not finish: it was killed, or is still under "
                                "way; 40 of the job's 61 rows are not yet in the report")
