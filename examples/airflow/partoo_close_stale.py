"""Airflow DAG: every night, close the unsolved Partoo conversations with no message for
30 days (README: "In Airflow"). Tested in real Airflow by tests/e2e/test_example_airflow.py
(`nox -s airflow`: `airflow dags test` against the simulator).

Install partoo-bulk beside Airflow (pip install partoo_bulk-*.whl) and give the workers
the key as a file, `PARTOO_API_KEY_FILE=/run/secrets/partoo` (or any `PARTOO_*` setting
and the config file, as for the CLI). Files go to PARTOO_REPORTS_DIR, a folder every
worker sees.

Two tasks. `select_stale` writes the run's job file (once: a retry reuses it). `close`
sends it with `worker.run_job(..., resume=True, retry_failed=True)`: a task retry after
the API was down finishes the same report, keeping the rows already done, instead of
starting over. The job and report are named after the DAG run, the same in every retry.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

try:  # Airflow 3
    from airflow.sdk import dag, get_current_context, task
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task
    from airflow.exceptions import AirflowException, AirflowFailException
    from airflow.operators.python import get_current_context

STALE_DAYS = 30


def run_files() -> tuple[Path, Path]:
    """(job, report) of this DAG run: named after its run id, so every retry finds them."""
    run_id = get_current_context()["run_id"]
    folder = Path(os.environ.get("PARTOO_REPORTS_DIR", "/var/lib/partoo-bulk"))
    folder.mkdir(parents=True, exist_ok=True)
    stem = "close-stale-" + re.sub(r"[^\w.-]", "_", run_id)
    return folder / f"{stem}.csv", folder / f"{stem}.report.csv"


@dag(
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # two runs would share (and fight over) the organization's quota
    # retry_delay: Airflow's [core] default_task_retry_delay (300 s unless set).
    default_args={"retries": 3},
    tags=["partoo"],
)
def partoo_close_stale():
    @task
    def select_stale() -> str:
        job, _report = run_files()
        if not job.exists():  # select writes the file whole or not at all
            # `select` has no Python API: the CLI, with this interpreter's partoo-bulk.
            listed = subprocess.run(
                [sys.executable, "-m", "worker", "select", "--stale-days", str(STALE_DAYS),
                 "--unsolved", "--action", "close", "--out", str(job), "--quiet"],
                capture_output=True, text=True)
            print(listed.stderr, end="")
            if listed.returncode == 2:  # a setting or the key: a retry will not help
                raise AirflowFailException(f"select could not start: {listed.stderr}")
            if listed.returncode != 0:
                raise AirflowException(f"select stopped (exit {listed.returncode})")
        return str(job)

    @task
    def close(job: str) -> dict[str, int]:
        import worker

        _job, report = run_files()
        try:
            result = worker.run_job(job, report=report, resume=True, retry_failed=True)
        except worker.StartupError as exc:  # nothing sent; a retry will not help
            raise AirflowFailException(str(exc)) from None
        print(f"{result.report}: {result.counts}, exit code {result.exit_code}")
        if result.exit_code == 3:  # a bad key or the API down: retry, resuming the report
            raise AirflowException(f"the run stopped ({result.stop_kind}): "
                                   f"{result.stop_reason}")
        if result.exit_code == 1:  # rows the API refused: retrying changes nothing
            raise AirflowFailException(f"{result.counts['failed']} rows failed, "
                                       f"{result.counts['invalid']} invalid: see {report}")
        return result.counts

    close(select_stale())


partoo_close_stale()
