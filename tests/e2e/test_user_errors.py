"""Mistakes a new user makes, found by trying the CLI as one: each gets one clear message."""

from __future__ import annotations

import json
import socket

from helpers import SECRET, make_engine, read_report, sim_env, write_job
from worker.core.outcomes import Outcome
from worker.sending.ratelimit import RateLimiter
from worker.sending.retrypolicy import RetryPolicy


def test_a_key_pasted_with_a_line_break_is_trimmed(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env=sim_env(sim, PARTOO_API_KEY=SECRET + "\n"))
    assert result.code == 0 and read_report(tmp_path / "job.report.csv")[0]["outcome"] == "ok"


def test_a_key_with_inner_control_characters_is_refused_without_echoing_it(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", env={"PARTOO_API_KEY": "abc\r\nX-Evil: 1"})
    assert result.code == 2 and "control characters" in result.err
    assert "X-Evil" not in result.err and not (tmp_path / "job.report.csv").exists()


async def test_an_unexpected_error_costs_one_row_and_stops_the_run_never_all_rows():
    from helpers import ops

    async def broken(op):
        if op.conversation_id == 3:
            raise ValueError("a bug")
        return 200

    engine = make_engine(broken, RateLimiter(60000), RetryPolicy(), concurrency=2)
    results = []
    await engine.run(ops(10), results.append)
    assert [r.row for r in results] == list(range(1, 11))
    assert results[2].outcome is Outcome.FAILED
    assert results[2].error == "internal error (ValueError: a bug)"
    assert engine.control.aborted and results[-1].outcome is Outcome.SKIPPED


def test_undo_reads_are_not_counted_as_retries(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "", "unassigned") for i in range(1, 6)])
    summary = tmp_path / "s.json"
    result = cli("run", job, "--yes", "--undo-out", tmp_path / "undo.csv", "--summary-json",
                 summary, env=sim_env(sim))
    assert result.code == 0
    data = json.loads(summary.read_text())
    assert data["requests"] == 10 and data["retries"] == 0


def test_summary_json_in_a_missing_folder_is_refused_before_sending(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", "--summary-json", tmp_path / "nope" / "s.json",
                 env=sim_env(sim))
    assert result.code == 2 and "does not exist" in result.err
    assert sim.state.log.stats()["requests"] == 0


def test_resume_and_overwrite_together_are_refused(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", "--resume", "--overwrite", env={"PARTOO_API_KEY": SECRET})
    assert result.code == 2 and "contradict" in result.err


def test_resume_with_another_job_suggests_a_new_report_not_overwriting(tmp_path, make_sim,
                                                                       cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    other = write_job(tmp_path / "other.csv", [("2", "closed", "")])
    report = tmp_path / "r.csv"
    assert cli("run", job, "--yes", "--report", report, env=sim_env(sim)).code == 0
    result = cli("run", other, "--yes", "--resume", "--report", report, env=sim_env(sim))
    assert result.code == 2 and "--report NEW_PATH" in result.err


def test_verify_with_a_bad_key_stops_once_with_exit_3(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 30)])
    assert cli("run", job, "--yes", env=sim_env(sim)).code == 0
    result = cli("verify", tmp_path / "job.report.csv",
                 env=sim_env(sim, PARTOO_API_KEY="revoked", PARTOO_CONCURRENCY="1"))
    assert result.code == 3 and "401" in result.err
    assert len(result.out.splitlines()) <= 1


def test_plan_takes_undo_out_with_a_path_like_run_and_hands_the_flags_on(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("plan", job, "--undo-out", tmp_path / "u.csv", "--rate-per-minute", "120")
    assert result.code == 0
    assert f"--undo-out {tmp_path / 'u.csv'} --rate-per-minute 120" in result.out


def test_simulate_on_a_busy_port_says_so(cli):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("simulate", "--port", str(port))
    assert result.code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.err
    assert "internal error" not in result.err


def test_nothing_listening_is_one_clear_message_not_failed_rows(tmp_path, cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 500)])
    result = cli("run", job, "--yes", env={"PARTOO_API_KEY": SECRET,
                                           "PARTOO_BASE_URL": f"http://127.0.0.1:{port}/v2"})
    assert result.code == 2
    assert f"connection refused by 127.0.0.1:{port}" in result.err
    assert "partoo-bulk simulate" in result.err and "Nothing was sent" in result.err
    assert not (tmp_path / "job.report.csv").exists()



def test_a_base_url_without_v2_stops_early_and_names_the_setting(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 300)])
    root = sim.base_url.removesuffix("/v2")
    result = cli("run", job, "--yes", env=sim_env(sim, PARTOO_BASE_URL=root))
    assert result.code == 3 and "circuit breaker" in result.err
    rows = read_report(tmp_path / "job.report.csv")
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert len(rows) == 299 and len(failed) < 40
    assert "404" in failed[0]["error"] and "check PARTOO_BASE_URL" in failed[0]["error"]


def test_config_file_typos_get_a_did_you_mean_and_a_readable_key_a_warning(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    typo = tmp_path / "typo.toml"
    typo.write_text("rate_per_minut = 5\n")
    result = cli("run", job, "--yes", "--config", typo, env={"PARTOO_API_KEY": SECRET})
    assert result.code == 2 and "did you mean 'rate_per_minute'?" in result.err
    readable = tmp_path / "key.toml"
    readable.write_text('api_key = "x"\nbase_url = "http://127.0.0.1:9/v2"\n')
    readable.chmod(0o644)
    result = cli("plan", job, "--config", readable)
    assert "let other users read the key" in result.err and "chmod 600" in result.err


def test_assign_with_an_empty_user_id_says_so(tmp_path, cli):
    ids = tmp_path / "ids.txt"
    ids.write_text("1\n")
    result = cli("plan", ids, "--assign", "")
    assert result.code == 2 and "--assign needs a user id" in result.err


def test_a_report_path_that_is_not_a_file_is_refused_even_with_overwrite(tmp_path, cli):
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    (tmp_path / "dir").mkdir()
    result = cli("run", job, "--yes", "--overwrite", "--report", tmp_path / "dir",
                 env={"PARTOO_API_KEY": SECRET})
    assert result.code == 2 and "not a regular file" in result.err
    assert (tmp_path / "dir").is_dir()


def test_a_report_in_a_missing_folder_is_refused_before_sending(tmp_path, make_sim, cli):
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
    result = cli("run", job, "--yes", "--report", tmp_path / "no" / "r.csv", env=sim_env(sim))
    assert result.code == 2 and "does not exist: create it" in result.err
    assert sim.state.log.stats()["requests"] == 0


def test_a_full_disk_stops_the_run_with_a_resumable_report(tmp_path, make_sim, cli,
                                                           monkeypatch):
    import errno

    from worker.report.writer import ReportWriter

    real_write = ReportWriter.write

    def write(self, result):
        if result.row == 6 and not getattr(self, "_full_once", False):
            self._full_once = True
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, result)

    monkeypatch.setattr(ReportWriter, "write", write)
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 21)])
    result = cli("run", job, "--yes", "--concurrency", "1", env=sim_env(sim))
    assert result.code == 3
    assert "No space left on device" in result.err and "--resume" in result.err
    assert "Traceback" not in result.err
    assert [r["row"] for r in read_report(tmp_path / "job.report.csv")] == \
        [str(i) for i in range(1, 6)]
    monkeypatch.setattr(ReportWriter, "write", real_write)
    assert cli("run", job, "--yes", "--resume", env=sim_env(sim)).code == 0
    assert len(read_report(tmp_path / "job.report.csv")) == 20
