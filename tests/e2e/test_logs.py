"""`--log-format json`: every line on stderr is a JSON object with a level that means
something, one run_id, the conversation_id and `http_status`; and the summary for
monitors (`--summary-json`, `--metrics-out`), through the real CLI against the simulator."""

from __future__ import annotations

import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers import SECRET, sim_env, write_job
from worker import __version__
from worker.simulator import Faults


def json_lines(err: str) -> list[dict]:
    lines = [line for line in err.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # fails on any line that is not JSON


def test_every_stderr_line_is_json_with_levels_run_id_and_http_status(tmp_path, make_sim, cli,
                                                                      monkeypatch):
    from worker.run import progress

    monkeypatch.setattr(progress.PlainProgress, "__init__", _every_row(progress.PlainProgress))
    sim = make_sim()
    sim.script(2, ["503", "ok"])
    sim.script(3, ["404"])
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", ""),
                                           ("3", "closed", ""), ("x", "closed", "")])
    result = cli("run", job, "--yes", "-v", "--log-format", "json", env=sim_env(sim))
    assert result.code == 1
    records = json_lines(result.err)
    assert len({r["run_id"] for r in records}) == 1
    requests = [r for r in records if r["event"] == "request"]
    assert all("status" not in r for r in requests)
    by = {(r["conversation_id"], r["attempt"]): r for r in requests}
    assert (by[2, 1]["http_status"], by[2, 1]["level"]) == (503, "warning")
    assert (by[2, 2]["http_status"], by[2, 2]["level"]) == (200, "info")
    assert (by[3, 1]["http_status"], by[3, 1]["level"]) == (404, "warning")
    assert by[1, 1]["path"] == "/conversations/1" and by[1, 1]["row"] == 1
    progress_lines = [r for r in records if r["event"] == "progress"]
    assert progress_lines and progress_lines[-1]["rows_done"] == 4
    assert progress_lines[-1]["rows_total"] == 4
    (summary,) = [r for r in records if r["event"] == "summary"]
    assert summary["level"] == "warning" and summary["exit_code"] == 1
    assert summary["outcomes"] == {"ok": 2, "failed": 1, "invalid": 1, "skipped": 0,
                                   "changed": 0}
    assert summary["run_id"] == records[0]["run_id"]
    assert result.out.startswith("4 rows: 2 ok")  # stdout still holds the summary line
    assert SECRET not in result.err


def _every_row(cls):
    original = cls.__init__

    def init(self, *args, **kwargs):
        kwargs["every_s"] = 0.0  # a progress line per row: no waiting for 10 s
        original(self, *args, **kwargs)

    return init


def test_an_abort_is_an_error_line_with_the_command_that_resumes(tmp_path, make_sim, cli):
    sim = make_sim(faults=Faults(force_status=401))
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 6)])
    result = cli("run", job, "--yes", "--log-format", "json", env=sim_env(sim))
    assert result.code == 3
    records = json_lines(result.err)
    (aborted,) = [r for r in records if r["event"] == "aborted"]
    assert aborted["level"] == "error" and aborted["stop_kind"] == "unauthorized"
    assert "--resume" in aborted["resume_command"]
    assert next(r for r in records if r["event"] == "summary")["level"] == "error"


def test_could_not_start_and_usage_errors_are_json_lines_too(tmp_path, cli):
    missing = cli("run", tmp_path / "nope.csv", "--yes", "--log-format", "json",
                  env={"PARTOO_API_KEY": SECRET})
    (record,) = json_lines(missing.err)
    assert missing.code == 2
    assert (record["event"], record["level"], record["exit_code"]) == ("could_not_start",
                                                                       "error", 2)
    assert "no such job file" in record["message"]
    with pytest.raises(SystemExit) as exit_info:
        cli("run", "--log-format=json", "--concurrency", "many")
    assert exit_info.value.code == 2


def test_usage_errors_under_json_logs_are_one_json_line(tmp_path, capsys):
    from worker.cli import main

    with pytest.raises(SystemExit):
        main(["run", "job.csv", "--log-format", "json", "--no-such-flag"])
    (record,) = json_lines(capsys.readouterr().err)
    assert record["event"] == "usage_error" and "--no-such-flag" in record["message"]


def test_the_summary_json_has_a_schema_version_the_tool_version_and_absolute_paths(
        tmp_path, make_sim, cli, monkeypatch):
    sim = make_sim()
    monkeypatch.chdir(tmp_path)
    write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", "job.csv", "--yes", "--summary-json", "s.json", "--undo-out",
                 "undo.csv", env=sim_env(sim))
    assert result.code == 0, result.err
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["schema_version"] == 1 and data["tool_version"] == __version__
    assert len(data["run_id"]) == 32
    assert data["job"] == str(tmp_path / "job.csv")
    assert data["report"] == str(tmp_path / "job.report.csv")
    assert data["undo_out"] == str(tmp_path / "undo.csv")


def metrics_of(path) -> dict[tuple[str, tuple], float]:
    """Parsed by prometheus_client's own parser: what node_exporter would read."""
    found = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        assert family.type == "gauge"
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_metrics_out_writes_the_textfile_format_node_exporter_reads(tmp_path, make_sim, cli):
    sim = make_sim()
    sim.script(2, ["429", "500", "ok"])
    sim.script(3, ["404"])
    job = write_job(tmp_path / "job.csv", [("1", "closed", ""), ("2", "closed", ""),
                                           ("3", "closed", ""), ("x", "closed", "")])
    prom = tmp_path / "partoo_nightly.prom"
    before = time.time()
    result = cli("run", job, "--yes", "--metrics-out", prom,
                 env=sim_env(sim, PARTOO_MAX_RETRY_AFTER_S="0.05"))
    assert result.code == 1
    m = metrics_of(prom)
    job_label = ("bulk_job", "partoo_nightly")

    def value(name, **labels):
        return m[f"partoo_bulk_{name}", tuple(sorted({**dict([job_label]), **labels}.items()))]

    assert [value("rows", outcome=o) for o in ("ok", "failed", "invalid", "skipped")] == \
        [2, 1, 1, 0]
    assert value("requests") == 5 and value("http_429_responses") == 1
    assert value("retries") == 1 and value("exit_code") == 1
    assert value("wall_time_seconds") > 0
    assert before <= value("last_success_timestamp_seconds") <= time.time()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(prom.name)] == [prom.name]


def test_a_run_that_does_not_finish_keeps_the_last_success_of_the_one_before(tmp_path,
                                                                            make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    prom = tmp_path / "partoo.prom"
    assert cli("run", job, "--yes", "--metrics-out", prom, env=sim_env(sim)).code == 0
    success = metrics_of(prom)["partoo_bulk_last_success_timestamp_seconds",
                               (("bulk_job", "partoo"),)]
    sim.simulator.faults = Faults(force_status=401)
    failed = cli("run", job, "--yes", "--overwrite", "--metrics-out", prom, env=sim_env(sim))
    assert failed.code == 3
    m = metrics_of(prom)
    assert m["partoo_bulk_exit_code", (("bulk_job", "partoo"),)] == 3
    assert m["partoo_bulk_last_success_timestamp_seconds", (("bulk_job", "partoo"),)] == success
    assert m["partoo_bulk_last_run_timestamp_seconds", (("bulk_job", "partoo"),)] >= success
    unstartable = cli("run", tmp_path / "nope.csv", "--yes", "--metrics-out", prom,
                      env=sim_env(sim))
    assert unstartable.code == 2
    assert metrics_of(prom)["partoo_bulk_exit_code", (("bulk_job", "partoo"),)] == 2


@pytest.mark.parametrize(("name", "says"), [
    ("partoo.txt", "reads only files named *.prom: use partoo.prom"),
    ("missing/partoo.prom", "does not exist: create it"),
])
def test_a_metrics_path_node_exporter_would_ignore_is_refused_before_sending(tmp_path,
                                                                            make_sim, cli,
                                                                            name, says):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", "--metrics-out", tmp_path / name, env=sim_env(sim))
    assert result.code == 2 and says in result.err
    assert sim.state.log.stats()["requests"] == 0
