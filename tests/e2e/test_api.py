"""The Python API as an orchestrator's task or a notebook uses it: from a worker thread,
inside a running loop, in a process whose logging and signals are its host's, quietly,
and with errors raised as exceptions, never as an exit."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import inspect
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import worker
from helpers import SECRET, read_report, sim_env, write_job
from worker.cli import main as cli_main
from worker.core.errors import ConfigError, JobFileError, ReportError, StartupError

PARAMETERS = ["job", "report", "action", "assign", "resume", "retry_failed", "overwrite",
              "settings", "echo", "guards", "finish_by"]


@pytest.fixture(autouse=True)
def no_partoo_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PARTOO_"):
            monkeypatch.delenv(name)


def sim_settings(sim, **extra) -> dict[str, object]:
    """sim_env's values as a settings mapping: key, address, fast pacing and retries."""
    values: dict[str, object] = {k.removeprefix("PARTOO_").lower(): v
                                 for k, v in sim_env(sim).items()}
    values.update(extra)
    return values


def three_kinds_of_rows(folder: Path) -> Path:
    """Two rows that succeed, one the API refuses (404), one invalid."""
    return write_job(folder / "job.csv", [("1", "closed", ""), ("2", "", "unassigned"),
                                          ("999999", "closed", ""), ("abc", "closed", "")])


# --- the surface ------------------------------------------------------------------------

def test_run_job_and_arun_job_take_the_documented_keyword_arguments():
    assert sorted(worker.__all__) == ["JobResult", "PartooBulkError", "RunAborted",
                                      "Settings", "StartupError", "__version__",
                                      "arun_job", "run_job"]
    for function in (worker.run_job, worker.arun_job):
        params = inspect.signature(function).parameters
        assert list(params) == PARAMETERS
        assert all(p.kind is p.KEYWORD_ONLY for p in list(params.values())[1:])
    assert inspect.iscoroutinefunction(worker.arun_job)
    assert [f.name for f in dataclasses.fields(worker.JobResult)] == [
        "exit_code", "counts", "report", "stop_reason", "stop_kind", "requests", "wall_s"]
    assert worker.Settings is __import__("worker.config").config.Settings
    assert issubclass(worker.StartupError, worker.PartooBulkError)


def test_importing_the_package_and_the_cli_loads_neither_aiohttp_nor_pydantic():
    code = ("import sys, worker, worker.cli; worker.cli._parser(); "
            "print(sorted(m for m in ('aiohttp', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# --- the three embedding contexts --------------------------------------------------------

def test_a_run_in_a_worker_thread_with_overwrite_finishes_and_installs_no_signal_handler(
        tmp_path, make_sim):
    sim = make_sim()
    job = three_kinds_of_rows(tmp_path)
    (tmp_path / "job.report.csv").write_text("an earlier report\n")
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    outcome: list[object] = []

    def task() -> None:
        try:
            outcome.append(worker.run_job(job, overwrite=True, settings=sim_settings(sim)))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=task)
    thread.start()
    thread.join(60)
    (result,) = outcome
    assert isinstance(result, worker.JobResult), result
    assert (result.exit_code, result.stop_reason, result.stop_kind) == (1, None, None)
    assert result.counts == {"ok": 2, "failed": 1, "invalid": 1, "skipped": 0,
                                   "changed": 0}
    assert result.report == tmp_path / "job.report.csv" and result.requests == 3
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == [
        "ok", "ok", "failed", "invalid"]
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers


def test_the_cli_in_a_worker_thread_runs_without_its_signal_handlers(tmp_path, make_sim,
                                                                     monkeypatch):
    sim = make_sim()
    for name, value in sim_env(sim).items():
        monkeypatch.setenv(name, value)
    job = three_kinds_of_rows(tmp_path)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(
        cli_main(["run", str(job), "--yes", "--quiet"])))
    thread.start()
    thread.join(60)
    assert codes == [1]
    assert len(read_report(tmp_path / "job.report.csv")) == 4


async def test_arun_job_runs_on_the_callers_loop(tmp_path, make_sim):
    sim = make_sim()
    job = write_job(tmp_path / "ids.txt", [("1",), ("2",), ("3",)], header=("conversation_id",))
    ticks = 0

    async def ticker() -> None:  # the host's own task keeps running beside the job
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    other = asyncio.create_task(ticker())
    result = await worker.arun_job(job, action="close", settings=sim_settings(sim))
    other.cancel()
    assert (result.exit_code, result.counts["ok"]) == (0, 3)
    assert result.report == tmp_path / "ids.report.csv"
    assert ticks > 1
    assert all(sim.state.conversations[i].is_solved for i in (1, 2, 3))


async def test_run_job_inside_a_running_loop_says_to_use_arun_job_and_touches_nothing(
        tmp_path, make_sim):
    sim = make_sim()
    job = three_kinds_of_rows(tmp_path)
    earlier = tmp_path / "job.report.csv"
    earlier.write_text("an earlier report\n")
    with pytest.raises(RuntimeError, match=r"running event loop.*await worker\.arun_job"):
        worker.run_job(job, overwrite=True, settings=sim_settings(sim))
    assert earlier.read_text() == "an earlier report\n"
    assert sim.state.log.stats()["requests"] == 0


async def test_cancelling_arun_job_leaves_a_report_that_resume_finishes(tmp_path, make_sim):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 61)])
    report = tmp_path / "job.report.csv"
    problems: list[dict[str, object]] = []  # a task left to fail after the run, say
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: problems.append(ctx))
    task = asyncio.create_task(worker.arun_job(job, settings=sim_settings(
        sim, rate_per_minute=1200)))
    for _ in range(3000):  # 30 s at most
        if task.done() or (report.exists() and report.read_text().count("\n") > 10):
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)
    gc.collect()
    assert problems == []
    result = await worker.arun_job(job, resume=True, settings=sim_settings(sim))
    assert (result.exit_code, result.counts["ok"]) == (0, 60)
    assert [int(r["row"]) for r in read_report(report)] == list(range(1, 61))


# --- the host's logging, and its terminal ------------------------------------------------

class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def host_logging():
    """A host that set up its own logging: a handler on the root logger, at DEBUG."""
    root = logging.getLogger()
    handler, level = Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_run_job_leaves_the_hosts_logging_alone_and_its_records_reach_the_host(
        tmp_path, make_sim, host_logging):
    sim = make_sim()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    result = worker.run_job(three_kinds_of_rows(tmp_path), settings=sim_settings(sim))
    assert result.exit_code == 1
    assert (list(root.handlers), root.level) == before
    requests = [r for r in host_logging.records if r.name == "partoo_bulk.requests"]
    assert len(requests) == 3  # one per request sent, as the host's handler saw them
    assert all(SECRET not in r.getMessage() for r in host_logging.records)


def test_cli_main_with_verbose_logs_leaves_the_hosts_logging_as_it_was(tmp_path, make_sim,
                                                                      host_logging,
                                                                      monkeypatch, capsys):
    sim = make_sim()
    for name, value in sim_env(sim).items():
        monkeypatch.setenv(name, value)
    root, ours = logging.getLogger(), logging.getLogger("partoo_bulk")
    before = (list(root.handlers), root.level, list(ours.handlers), ours.level, ours.propagate)
    code = cli_main(["run", str(three_kinds_of_rows(tmp_path)), "--yes", "-v"])
    assert code == 1
    assert "PATCH /conversations/1" in capsys.readouterr().err  # -v shows on stderr...
    assert not [r for r in host_logging.records if r.name.startswith("partoo_bulk")]
    assert (list(root.handlers), root.level, list(ours.handlers), ours.level,
            ours.propagate) == before  # ...and only while the command runs


def test_nothing_is_printed_unless_echo_is_asked_for(tmp_path, make_sim, capsys):
    sim = make_sim()
    job = three_kinds_of_rows(tmp_path)
    worker.run_job(job, settings=sim_settings(sim))
    assert capsys.readouterr() == ("", "")
    worker.run_job(job, overwrite=True, settings=sim_settings(sim), echo=True)
    out = capsys.readouterr().out
    assert "4 rows: 2 ok, 1 failed, 1 invalid, 0 skipped" in out and "report:" in out


# --- settings, results and errors --------------------------------------------------------

def test_a_settings_mapping_wins_over_the_environment(tmp_path, make_sim, monkeypatch):
    sim = make_sim()
    monkeypatch.setenv("PARTOO_API_KEY", "a-key-the-mapping-replaces")
    monkeypatch.setenv("PARTOO_BASE_URL", "http://127.0.0.1:9/v2")  # nobody listens there
    monkeypatch.setenv("PARTOO_RATE_PER_MINUTE", "60000")
    settings = {"api_key": SECRET, "base_url": sim.base_url, "concurrency": None}
    result = worker.run_job(three_kinds_of_rows(tmp_path), settings=settings)
    assert result.counts["ok"] == 2
    assert sim.state.log.stats()["requests"] == 3


def test_a_settings_object_is_used_as_given(tmp_path, make_sim):
    sim = make_sim()
    settings = worker.Settings(**sim_settings(sim))
    result = worker.run_job(three_kinds_of_rows(tmp_path), settings=settings,
                            report=tmp_path / "elsewhere.csv")
    assert result.report == tmp_path / "elsewhere.csv" and result.counts["ok"] == 2


def test_a_run_stopped_by_a_bad_key_is_a_result_with_its_reason(tmp_path, make_sim):
    sim = make_sim(keys=("another-key-entirely",))
    result = worker.run_job(three_kinds_of_rows(tmp_path), settings=sim_settings(sim))
    assert result.exit_code == 3
    assert result.stop_reason is not None and "PARTOO_API_KEY" in result.stop_reason
    assert result.stop_kind == "unauthorized"
    assert result.counts["skipped"] >= 1 and result.requests >= 1
    assert SECRET not in result.stop_reason


def test_a_missing_key_raises_a_startup_error_not_an_exit(tmp_path, make_sim):
    sim = make_sim()
    with pytest.raises(ConfigError, match=r"PARTOO_API_KEY.*settings=\{'api_key'"):
        worker.run_job(three_kinds_of_rows(tmp_path), settings={"base_url": sim.base_url})


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"settings": {"rate_per_minte": 5}}, ConfigError, "did you mean 'rate_per_minute'"),
    ({"settings": {"concurrency": 0}}, ConfigError, "concurrency"),
    ({"action": "delete"}, ConfigError, "use close, open or unassign"),
    ({"action": "close", "assign": "u1"}, ConfigError, "give one of them"),
    ({"resume": True, "overwrite": True}, ConfigError, "contradict"),
    ({"job": "missing.csv"}, JobFileError, "no such job file"),
    ({}, ReportError, "a report is already there"),
])
def test_what_cannot_start_raises_a_startup_error_and_sends_nothing(tmp_path, make_sim,
                                                                    kwargs, error, message):
    sim = make_sim()
    job = three_kinds_of_rows(tmp_path)
    (tmp_path / "job.report.csv").write_text("an earlier report\n")
    kwargs = {"job": job, **kwargs}
    kwargs["settings"] = {**sim_settings(sim), **kwargs.get("settings", {})}
    with pytest.raises(error, match=message) as caught:
        worker.run_job(kwargs.pop("job"), **kwargs)
    assert isinstance(caught.value, StartupError)
    assert sim.state.log.stats()["requests"] == 0
    assert (tmp_path / "job.report.csv").read_text() == "an earlier report\n"


def test_overwrite_keeps_the_earlier_report_when_the_run_cannot_start(tmp_path):
    job = three_kinds_of_rows(tmp_path)
    earlier = tmp_path / "job.report.csv"
    earlier.write_text("an earlier report\n")
    with pytest.raises(StartupError, match=r"127\.0\.0\.1:9"):
        worker.run_job(job, overwrite=True, settings={
            "api_key": SECRET, "base_url": "http://127.0.0.1:9/v2", "request_timeout_s": 2})
    assert earlier.read_text() == "an earlier report\n"
