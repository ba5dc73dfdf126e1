"""examples/kubernetes/cronjob.yaml: what the CronJob promises, and its script run twice.

`nox -s kubernetes` validates the manifest against the Kubernetes schema
(kubernetes-validate) and runs this file; elsewhere it is skipped without PyYAML. The
container's shell script runs here against the simulator with the manifest's own
environment, /reports moved to a temporary folder: a first attempt stopped by the API
being down (exit 3), then a retry of the same Job that finishes the same job file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import SECRET, read_report, sim_env
from worker.simulator import Faults

yaml = pytest.importorskip("yaml", reason="needs PyYAML (nox -s kubernetes installs it)")

MANIFEST = Path(__file__).resolve().parents[2] / "examples" / "kubernetes" / "cronjob.yaml"


def cronjob() -> dict:
    (found,) = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d["kind"] == "CronJob"]
    return found


def container() -> dict:
    (only,) = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return only


def test_the_cronjob_never_overlaps_keeps_reports_and_reads_the_key_from_a_secret():
    spec = cronjob()["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    assert "persistentVolumeClaim" in volumes[mounts["/reports"]]
    env = {e["name"]: e for e in container()["env"]}
    assert "PARTOO_API_KEY" not in env
    key_file = Path(env["PARTOO_API_KEY_FILE"]["value"])
    assert "secret" in volumes[mounts[str(key_file.parent)]]
    script = container()["args"][0]
    assert "--resume" in script and "/reports/$JOB_NAME" in script


def attempt(script: str, reports: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent  # partoo-bulk, as on the image's PATH
    return subprocess.run([*container()["command"], script.replace("/reports", str(reports))],
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_a_retried_job_finishes_the_same_report_instead_of_starting_over(tmp_path, make_sim):
    sim = make_sim(n_conversations=120, faults=Faults(force_status=503))  # PATCHes only
    unsolved = sim.call(lambda s: sorted(c.id for c in s.state.conversations.values()
                                         if not c.is_solved))
    key = tmp_path / "api-key"
    key.write_text(SECRET)
    key.chmod(0o600)
    reports = tmp_path / "reports"
    reports.mkdir()
    env = {e["name"]: e["value"] for e in container()["env"] if "value" in e}
    env.update(sim_env(sim, PARTOO_MAX_ATTEMPTS="2"), PARTOO_API_KEY_FILE=str(key),
               JOB_NAME="partoo-close-stale-29412870", HOME=str(tmp_path))
    del env["PARTOO_API_KEY"]
    script = container()["args"][0]

    first = attempt(script, reports, env)
    assert first.returncode == 3, first.stderr  # the circuit breaker: the API looks down
    job = reports / "partoo-close-stale-29412870.csv"
    listed = job.read_bytes()
    first_report = read_report(job.with_name(job.stem + ".report.csv"))
    assert {r["outcome"] for r in first_report} >= {"failed", "skipped"}

    sim.set_faults(Faults())  # the API is back before Kubernetes retries
    second = attempt(script, reports, env)
    assert second.returncode == 0, second.stderr
    assert job.read_bytes() == listed  # the same list, not a new select
    jobs = [p.name for p in reports.glob("*.csv") if ".report.csv" not in p.name]
    assert jobs == [job.name]  # one list for the night, whatever the retries
    report = read_report(job.with_name(job.stem + ".report.csv"))
    assert [int(r["conversation_id"]) for r in report] == unsolved
    assert {r["outcome"] for r in report} == {"ok"}
    assert SECRET not in first.stderr + second.stderr
