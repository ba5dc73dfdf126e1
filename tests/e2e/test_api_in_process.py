"""The Python API with other runs in the same process, and a host that moves its working
folder: the lock's message fits a caller that is itself the holder, the collector's
tuning is the host's again once every run ended, paths stay the files first named; and a
path that names no file is a `ConfigError`, not a raw `ValueError`."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time

import pytest

import worker
from helpers import read_report, sim_env, write_job
from worker.core.errors import ConfigError, ReportError


@pytest.fixture(autouse=True)
def no_partoo_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PARTOO_"):
            monkeypatch.delenv(name)


def settings_for(sim) -> dict[str, object]:
    return {k.removeprefix("PARTOO_").lower(): v for k, v in sim_env(sim).items()}


def closing(path, ids) -> os.PathLike[str]:
    return write_job(path, [(str(i), "closed", "") for i in ids])


async def test_a_second_run_on_a_report_this_process_holds_is_told_so_not_to_kill(
        tmp_path, make_sim):
    sim = make_sim()
    sim.script(1, ["slow:0.3"])
    job = closing(tmp_path / "job.csv", [1])
    first = asyncio.create_task(worker.arun_job(job, settings=settings_for(sim)))
    second = asyncio.create_task(worker.arun_job(job, settings=settings_for(sim),
                                                 overwrite=True))
    done, refused = await asyncio.gather(first, second, return_exceptions=True)
    assert done.exit_code == 0
    assert isinstance(refused, ReportError)
    message = str(refused)
    assert "another run in this process" in message
    assert "kill" not in message and str(os.getpid()) not in message


async def test_overlapping_runs_give_the_host_its_collector_thresholds_back(tmp_path,
                                                                            make_sim):
    sim = make_sim()
    sim.script(1, ["slow:0.3"])  # the first run ends first, while the second still sends
    sim.script(2, ["slow:1.0"])
    host = (777, 11, 12)
    saved = gc.get_threshold()
    gc.set_threshold(*host)
    try:
        short = worker.arun_job(closing(tmp_path / "a.csv", [1]), settings=settings_for(sim))
        long = worker.arun_job(closing(tmp_path / "b.csv", [2]), settings=settings_for(sim))
        results = await asyncio.gather(short, long)
        assert [r.exit_code for r in results] == [0, 0]
        assert gc.get_threshold() == host
        assert not gc.get_freeze_count()
    finally:
        gc.set_threshold(*saved)


def test_a_resumed_run_survives_the_host_changing_its_folder(tmp_path, make_sim,
                                                             monkeypatch):
    sim = make_sim()
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(here)
    closing(here / "job.csv", [1, 2])
    sim.script(2, ["404"])
    first = worker.run_job("job.csv", settings=settings_for(sim))
    assert first.exit_code == 1
    assert first.report == here / "job.report.csv"  # absolute, as given relative

    sim.script(2, ["slow:1.0"])  # the retried row is out while the host moves
    outcome: dict[str, object] = {}

    def resume() -> None:
        try:
            outcome["result"] = worker.run_job("job.csv", resume=True, retry_failed=True,
                                               settings=settings_for(sim))
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=resume)
    thread.start()
    deadline = time.monotonic() + 20
    while not (here / "job.report.csv.partial").exists():
        assert thread.is_alive() and time.monotonic() < deadline, outcome
        time.sleep(0.01)
    os.chdir(elsewhere)
    thread.join(timeout=30)
    assert "error" not in outcome, outcome
    result = outcome["result"]
    assert result.exit_code == 0 and result.report == here / "job.report.csv"
    assert [r["outcome"] for r in read_report(here / "job.report.csv")] == ["ok", "ok"]


@pytest.mark.parametrize("report", ["", ".", "/", "out/"])
def test_a_report_path_that_names_no_file_is_a_config_error(tmp_path, make_sim, report):
    sim = make_sim()
    job = closing(tmp_path / "job.csv", [1])
    with pytest.raises(ConfigError, match="report="):
        worker.run_job(job, report=report, settings=settings_for(sim))
    assert not sim.state.log.records


@pytest.mark.parametrize("job", ["", "."])
def test_a_job_path_that_names_no_file_is_a_config_error(make_sim, job):
    with pytest.raises(ConfigError, match="job="):
        worker.run_job(job, settings=settings_for(make_sim()))
