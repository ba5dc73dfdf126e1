"""examples/airflow/partoo_close_stale.py in real Airflow: `airflow dags test` against
the simulator, AIRFLOW_HOME in a temporary folder (SQLite).

`nox -s airflow` installs Airflow from PyPI in a venv of its own with partoo-bulk's wheel
and runs this file; elsewhere it is skipped. The API is down for the first try of the
`close` task (every PATCH answers 503: the circuit breaker stops the run, exit 3, and the
task fails); once that try has ended the API is back, and Airflow's retry of the task
finishes the same report with the same job file.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import SECRET, read_report, sim_env
from worker.simulator import Faults

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"
pytestmark = pytest.mark.skipif(not AIRFLOW.exists(),
                                reason="needs Airflow beside this Python: nox -s airflow")
RETRY_DELAY_S = 3  # Airflow's wait before a retry; the API is back well before it ends


def test_a_retried_task_finishes_the_same_report(tmp_path, make_sim):
    sim = make_sim(n_conversations=120, faults=Faults(force_status=503))  # PATCHes only
    unsolved = sim.call(lambda s: sorted(c.id for c in s.state.conversations.values()
                                         if not c.is_solved))
    key = tmp_path / "partoo.key"
    key.write_text(SECRET)
    key.chmod(0o600)
    reports = tmp_path / "reports"
    env = {"PATH": f"{AIRFLOW.parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "examples" / "airflow"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": str(RETRY_DELAY_S),
           **sim_env(sim, PARTOO_MAX_ATTEMPTS="2"),
           "PARTOO_API_KEY_FILE": str(key), "PARTOO_REPORTS_DIR": str(reports)}
    del env["PARTOO_API_KEY"]
    migrated = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, capture_output=True,
                              text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    log = tmp_path / "dags-test.log"
    with open(log, "w") as out:
        dags_test = subprocess.Popen(
            [str(AIRFLOW), "dags", "test", "partoo_close_stale", "2026-12-01"], env=env,
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        first_try = wait_for_the_first_try(reports, len(unsolved), dags_test)
        sim.set_faults(Faults())  # the API is back before Airflow retries the task
        assert dags_test.wait(timeout=300) == 0, log.read_text()[-3000:]

    assert {r["outcome"] for r in first_try} >= {"failed", "skipped"}
    (job,) = [p for p in reports.glob("close-stale-*.csv") if ".report.csv" not in p.name]
    report = read_report(job.with_name(job.stem + ".report.csv"))
    assert [int(r["conversation_id"]) for r in report] == unsolved
    assert {r["outcome"] for r in report} == {"ok"}
    ends = [line for line in log.read_text().splitlines() if ".report.csv: {" in line]
    assert [line.rsplit("exit code ", 1)[1] for line in ends] == ["3", "0"]  # one retry
    assert len({line.split(": {")[0] for line in ends}) == 1  # of the same report
    assert SECRET not in log.read_text()


def wait_for_the_first_try(reports: Path, rows: int, process: subprocess.Popen) -> list:
    """The first try's report once it is whole (every row has its line: it has ended)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        for path in reports.glob("close-stale-*.report.csv"):
            lines = read_report(path)
            if len(lines) == rows:
                return lines
        time.sleep(0.05)
    raise AssertionError(f"the first try never ended with {rows} report lines "
                         f"(airflow exit {process.poll()})")
