"""When the first rows sent are all refused the same way, the run stops: the job is wrong."""

from __future__ import annotations

from helpers import read_report, sim_env, write_job
from worker.core.errors import Rejected, ServerError
from worker.sending.watchers import SameRefusals
from worker.simulator import Faults
from worker.simulator.state import NOT_FOUND


def not_found(cid: int) -> Rejected:
    return Rejected(f"404 Conversation {cid} not found", http_status=404)


def test_the_rule_trips_on_the_nth_identical_refusal_and_only_then():
    rule = SameRefusals(20)
    assert not any(rule.record(not_found(i)) for i in range(19))
    assert rule.record(not_found(19))  # the values of a row (its id) do not count
    assert "404" in rule.explain() and "/v2" in rule.explain()
    assert not rule.record(not_found(20))  # once


def test_one_ok_row_or_another_refusal_disarms_it_for_the_run():
    ok_first = SameRefusals(3)
    ok_first.record(not_found(1))
    ok_first.record(None)
    assert not any(ok_first.record(not_found(i)) for i in range(100))
    mixed = SameRefusals(3)
    mixed.record(not_found(1))
    mixed.record(Rejected("403 authorization: Operation not allowed", http_status=403))
    assert not any(mixed.record(not_found(i)) for i in range(100))


def test_server_faults_count_neither_way_and_zero_turns_it_off():
    rule = SameRefusals(3)
    rule.record(not_found(1))
    rule.record(ServerError("500 Internal Server Error", http_status=500))
    rule.record(not_found(2))
    assert rule.record(not_found(3))
    off = SameRefusals(0)
    assert not any(off.record(not_found(i)) for i in range(100))


def closed_rows(n: int, first: int = 1) -> list[tuple[str, str, str]]:
    return [(str(i), "closed", "") for i in range(first, first + n)]


def test_a_base_url_without_v2_whose_404s_are_json_stops_after_20_rows(tmp_path, make_sim,
                                                                       cli):
    sim = make_sim(faults=Faults(json_404=True))
    job = write_job(tmp_path / "job.csv", closed_rows(120))
    env = sim_env(sim, PARTOO_BASE_URL=sim.base_url.removesuffix("/v2"))

    result = cli("run", job, "--yes", "--quiet", env=env)

    assert result.code == 3, result.err
    assert "the first 20 rows sent were all refused the same way" in result.err
    assert "under /v2" in result.err and "PARTOO_BASE_URL" in result.err
    assert "--resume --retry-failed" in result.err
    rows = read_report(tmp_path / "job.report.csv")
    outcomes = [r["outcome"] for r in rows]
    assert outcomes.count("failed") + outcomes.count("skipped") == 120
    assert 20 <= outcomes.count("failed") <= 20 + 8  # + what was in flight
    assert sim.state.log.stats()["requests"] == outcomes.count("failed")
    report = cli("report", tmp_path / "job.report.csv")
    assert "Fix the cause (user, access, id)" not in report.out
    assert "the job (the base URL, the key's access, the action)" in report.out
    assert "--resume --retry-failed" in report.out

    # Fixed: the same report finishes, the refused rows sent again.
    done = cli("run", job, "--yes", "--quiet", "--resume", "--retry-failed",
               env=sim_env(sim))
    assert done.code == 0, done.err
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == ["ok"] * 120
    assert "every row is ok" in cli("report", tmp_path / "job.report.csv").out


def test_a_403_for_every_row_says_the_user_lacks_access(tmp_path, make_sim, cli):
    sim = make_sim(faults=Faults(force_status=403))
    job = write_job(tmp_path / "job.csv", closed_rows(60))
    result = cli("run", job, "--yes", "--quiet", env=sim_env(sim))
    assert result.code == 3
    assert "403" in result.err and "lacks access" in result.err
    assert sim.state.log.stats()["requests"] <= 28


def test_a_job_with_a_few_bad_rows_among_good_ones_runs_to_its_end(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=200)
    rows = closed_rows(150)
    for i in (0, 1, 2, 30, 60, 61, 62, 63, 64, 90, 149):  # 404s, three of them first
        rows[i] = (str(10_000 + i), "closed", "")
    job = write_job(tmp_path / "job.csv", rows)
    result = cli("run", job, "--yes", "--quiet", env=sim_env(sim))
    assert result.code == 1, result.err
    outcomes = [r["outcome"] for r in read_report(tmp_path / "job.report.csv")]
    assert outcomes.count("failed") == 11 and "skipped" not in outcomes
    report = cli("report", tmp_path / "job.report.csv")
    assert "Fix the cause (user, access, id)" in report.out  # these rows are the cause


def test_the_rule_is_a_setting_that_zero_turns_off(tmp_path, make_sim, cli):
    sim = make_sim(faults=Faults(force_status=404))
    job = write_job(tmp_path / "job.csv", closed_rows(40))
    off = cli("run", job, "--yes", "--quiet", env=sim_env(sim, PARTOO_SAME_REFUSAL_ROWS="0"))
    assert off.code == 1
    assert [r["outcome"] for r in read_report(tmp_path / "job.report.csv")] == ["failed"] * 40
    five = cli("run", job, "--yes", "--quiet", "--overwrite",
               env=sim_env(sim, PARTOO_SAME_REFUSAL_ROWS="5", PARTOO_CONCURRENCY="1"))
    assert five.code == 3 and "the first 5 rows sent" in five.err
    assert NOT_FOUND["error"]["json"] in five.err
