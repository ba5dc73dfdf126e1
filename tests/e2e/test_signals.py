"""The worker as a real process: kill -9 then --resume, SIGINT/SIGTERM, a second signal."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers import SECRET, read_report, sim_env, start_worker, wait_for_lines, write_job
from worker.simulator import ALICE, BOB, CAROL, Faults


def ok_rows(report: Path) -> list[dict[str, str]]:
    text = report.read_text(encoding="utf-8")
    whole = text[: text.rfind("\n") + 1]  # what a reader can trust right after a kill
    import csv
    import io

    return [r for r in csv.DictReader(io.StringIO(whole)) if r["outcome"] == "ok"]


def test_kill_9_then_resume_finishes_the_job_without_resending_ok_rows(tmp_path, make_sim):
    sim = make_sim(n_conversations=400, faults=Faults(error_before=0.05, error_after=0.03,
                                                     reset_before=0.02, reset_after=0.02,
                                                     seed=5))
    users = [ALICE, BOB, CAROL, "unassigned"]
    rows = []
    for i in range(600):  # 600 rows over 300 conversations: two rows for most of them
        cid = i % 300 + 1
        rows.append((str(cid), "", users[(i * 7) % 4]) if i % 3 else
                    (str(cid), "closed" if i % 2 else "open", ""))
    job = write_job(tmp_path / "job.csv", rows)
    report = tmp_path / "job.report.csv"
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="6000")

    proc = start_worker(job, env, "--quiet")
    wait_for_lines(report, 420, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ok_before = ok_rows(report)
    seq_at_kill = len(sim.state.log.records)

    resumed = start_worker(job, {**env, "PARTOO_RATE_PER_MINUTE": "60000"}, "--resume",
                           "--quiet")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode in (0, 1), err
    assert "Traceback" not in err

    final = read_report(report)
    assert [int(r["row"]) for r in final] == list(range(1, 601))
    # Every row that was ok before the kill is kept as it was, not sent again.
    kept = {r["row"]: r for r in final}
    assert all(kept[r["row"]] == r for r in ok_before)
    # So a conversation whose rows were all ok before the kill gets no request after it.
    done = {int(r["row"]) for r in ok_before}
    rows_of: dict[int, set[int]] = {}
    for row, (cid, _, _) in enumerate(rows, start=1):
        rows_of.setdefault(int(cid), set()).add(row)
    finished = {cid for cid, its_rows in rows_of.items() if its_rows <= done}
    assert len(finished) > 20
    after = [rec.conversation_id for rec in sim.state.log.records[seq_at_kill:]]
    assert not finished & set(after)
    # The server's final state is what the last ok row of each conversation says.
    sim.stop()
    last: dict[int, tuple[str, str, str]] = {}
    for (cid, status, assignee), line in zip(rows, final, strict=True):
        last[int(cid)] = (status, assignee, line["outcome"])
    checked = 0
    for cid, (status, assignee, outcome) in last.items():
        if outcome != "ok":
            continue
        conv = sim.state.conversations[cid]
        if status:
            assert conv.is_solved == (status == "closed"), cid
        else:
            assert conv.assigned_user_id == (None if assignee == "unassigned" else assignee)
        checked += 1
    assert checked > 250
    assert SECRET not in out + err + report.read_text()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT],
                         ids=lambda sig: sig.name)
def test_one_signal_drains_records_the_rest_and_exits_130(tmp_path, make_sim, sig):
    """SIGHUP (an SSH session dropped) and SIGQUIT stop a run as SIGTERM does: with the
    summary, the summary JSON and the metrics."""
    sim = make_sim(n_conversations=400)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 301)])
    report = tmp_path / "job.report.csv"
    summary, metrics = tmp_path / "s.json", tmp_path / "m.prom"
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="3000")

    proc = start_worker(job, env, "--summary-json", str(summary), "--metrics-out",
                        str(metrics))
    wait_for_lines(report, 20, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, err
    assert f"partoo-bulk: {sig.name}: finishing the requests in flight" in err
    again_by = ("press Ctrl-C again" if sig is signal.SIGINT else
                f"send {sig.name} again (kill -{sig.name[3:]} {proc.pid})")
    assert again_by in err
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 130 and data["stop_kind"] == "interrupted"
    assert data["stop_reason"] == f"run interrupted ({sig.name})"
    exit_codes = [m.value for family in text_string_to_metric_families(metrics.read_text())
                  for m in family.samples if m.name == "partoo_bulk_exit_code"]
    assert exit_codes == [130]
    rows = read_report(report)
    assert [int(r["row"]) for r in rows] == list(range(1, 301))
    skipped = [r for r in rows if r["outcome"] == "skipped"]
    assert skipped and all(r["error"] == f"not attempted: run interrupted ({sig.name})"
                           for r in skipped)
    assert {r["outcome"] for r in rows} == {"ok", "skipped"}
    assert "--resume" in err and "Traceback" not in err
    assert "300 rows:" in out
    sent = {rec.conversation_id for rec in sim.state.log.records}
    assert sent == {int(r["conversation_id"]) for r in rows if r["outcome"] == "ok"}

    again = start_worker(job, {**env, "PARTOO_RATE_PER_MINUTE": "60000"}, "--resume")
    again.communicate(timeout=60)
    assert again.returncode == 0
    assert {r["outcome"] for r in read_report(report)} == {"ok"}


def test_a_second_signal_cancels_requests_in_flight(tmp_path, make_sim):
    sim = make_sim(faults=Faults(slow=1.0, slow_s=8.0, seed=1))
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 41)])
    report = tmp_path / "job.report.csv"
    env = sim_env(sim, PARTOO_REQUEST_TIMEOUT_S="30", PARTOO_CONCURRENCY="4")

    proc = start_worker(job, env)
    deadline = time.monotonic() + 10
    while len(sim.state.log.records) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)  # the server has the four slow requests in hand
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=20)

    assert proc.returncode == 130, err
    assert time.monotonic() - started < 5  # did not wait for the 8 s replies
    rows = read_report(report)
    assert [int(r["row"]) for r in rows] == list(range(1, 41))
    in_flight = [r for r in rows if "in flight" in r["error"]]
    assert len(in_flight) == 4 and all(r["outcome"] == "skipped" for r in in_flight)
    assert all(r["outcome"] == "skipped" for r in rows)


def test_rows_finished_ahead_of_a_slow_one_survive_a_kill_9(tmp_path, make_sim):
    """Row 1 answers after 8 s; rows 2.. finish meanwhile and wait for it (the report is
    in row order). Killed then, their outcomes are in R.ahead, and --resume keeps them
    instead of sending them again."""
    sim = make_sim(n_conversations=300)
    sim.script(1, ["slow:8"])
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 121)])
    report = tmp_path / "job.report.csv"
    ahead = tmp_path / "job.report.csv.ahead"
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="3000", PARTOO_REQUEST_TIMEOUT_S="20")

    proc = start_worker(job, env, "--quiet")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if ahead.exists() and ahead.read_text(encoding="utf-8").count("\n") >= 40:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert report.read_text(encoding="utf-8").count("\n") == 1  # the header: row 1 is out
    import csv

    with open(ahead, encoding="utf-8", newline="") as f:
        saved = {int(line[0]): line for line in csv.reader(f)}
    assert len(saved) >= 40 and 1 not in saved
    seq_at_kill = len(sim.state.log.records)

    resumed = start_worker(job, env, "--resume", "--quiet")
    _out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    final = read_report(report)
    assert [int(r["row"]) for r in final] == list(range(1, 121))
    assert all(r["outcome"] == "ok" for r in final)
    sent_after = {rec.conversation_id for rec in sim.state.log.records[seq_at_kill:]}
    assert not sent_after & set(saved)  # kept, not sent again
    assert 1 in sent_after
    for row in saved:  # each kept line is the one the killed run wrote, unchanged
        assert list(final[row - 1].values()) == saved[row]
    assert not ahead.exists()
