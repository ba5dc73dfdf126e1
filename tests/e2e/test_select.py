"""`partoo-bulk select` end to end: the real CLI, over loopback HTTP, against the simulator.

Expected selections are computed here, independently, from the simulator's own state.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from helpers import SECRET, read_report, sim_env
from worker.simulator import ALICE, BOB, CAROL, Faults
from worker.simulator.state import ApiError

N = 300
AS_OF = datetime(2023, 2, 15, tzinfo=UTC)


def read_job(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def expected(sim, *, businesses=None, solved=None, assigned_to=None, unassigned=False,
             stale_days=None, skip_expired=False, action="close", user=None) -> list[int]:
    """The ids `select` must write, from the server-side truth, in id order."""
    def matches(c) -> bool:
        last = c.last_message_date or c.created_at
        return all((
            businesses is None or c.business_id in businesses,
            solved is None or c.is_solved == solved,
            assigned_to is None or c.assigned_user_id == assigned_to,
            not unassigned or c.assigned_user_id is None,
            stale_days is None or last <= AS_OF - timedelta(days=stale_days),
            not (skip_expired or action == "open") or not c.is_expired,
            action != "close" or not c.is_solved,
            action != "open" or c.is_solved,
            action != "unassign" or c.assigned_user_id is not None,
            action != "assign" or c.assigned_user_id != user,
        ))

    return sim.call(lambda s: sorted(c.id for c in s.state.conversations.values()
                                     if matches(c)))


CASES = [
    (["--stale-days", "20", "--unsolved", "--action", "close"],
     {"stale_days": 20, "solved": False}),
    (["--business", "4101,4103", "--action", "close"], {"businesses": {"4101", "4103"}}),
    (["--business", "4101", "--business", "4102", "--skip-expired", "--action", "close"],
     {"businesses": {"4101", "4102"}, "skip_expired": True}),
    (["--assigned-to", BOB, "--action", "unassign"],
     {"assigned_to": BOB, "action": "unassign"}),
    (["--unassigned", "--solved", "--action", "open"],
     {"unassigned": True, "solved": True, "action": "open"}),
    (["--business", "4102", "--stale-days", "10", "--assign", ALICE],
     {"businesses": {"4102"}, "stale_days": 10, "action": "assign", "user": ALICE}),
]


@pytest.mark.parametrize(("flags", "criteria"), CASES)
def test_select_writes_exactly_the_matching_conversations(tmp_path, make_sim, cli, flags,
                                                          criteria):
    sim = make_sim(n_conversations=N)
    out = tmp_path / "job.csv"
    as_of = ["--as-of", AS_OF.date().isoformat()] if "--stale-days" in flags else []
    result = cli("select", *flags, *as_of, "--per-page", "13", "--out", out, env=sim_env(sim))
    assert result.code == 0, result.err
    rows = read_job(out)
    want = expected(sim, **criteria)
    assert want and len(want) < N  # the case really filters
    assert [int(r["conversation_id"]) for r in rows] == want
    assert f"selected: {len(want)} (" in result.err
    assert f"selected {len(want)} conversations" in result.out
    assert "Traceback" not in result.err and SECRET not in result.out + result.err
    convs = sim.call(lambda s: dict(s.state.conversations))
    for row in rows:
        c = convs[int(row["conversation_id"])]
        assert row["business_id"] == c.business_id
        assert row["solved_before"] == str(c.is_solved).lower()
        assert row["assignee_before"] == (c.assigned_user_id or "unassigned")
        assert row["last_activity"].startswith(
            (c.last_message_date or c.created_at).strftime("%Y-%m-%d %H:%M:%S"))


def test_counts_per_filter_on_stderr(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=N)
    result = cli("select", "--business", "4101", "--unsolved", "--stale-days", "20",
                 "--as-of", "2023-02-15", "--action", "close", "--out", tmp_path / "j.csv",
                 env=sim_env(sim))
    lines = result.err.splitlines()
    assert lines[0].startswith(f"partoo-bulk select: {N // 3} conversations listed from 127.0.0.1")
    in_a = expected(sim, businesses={"4101"}, action="none")
    unsolved = expected(sim, businesses={"4101"}, solved=False, action="none")
    assert f"  business in 4101: {len(in_a)} kept, 0 dropped" in lines
    assert f"  unsolved: {len(unsolved)} kept, {len(in_a) - len(unsolved)} dropped" in lines
    assert any(line.startswith("  no activity for 20 days") and "2023-01-26 00:00:00+00:00"
               in line for line in lines)
    assert any(line.startswith("  not already solved: ") for line in lines)


def test_round_robin_is_even_stable_and_runs_to_the_expected_state(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=N)
    env = sim_env(sim)
    first, again = tmp_path / "leaver.csv", tmp_path / "again.csv"
    for out in (first, again):
        result = cli("select", "--assigned-to", ALICE, "--unsolved", "--assign-round-robin",
                     f"{BOB},{CAROL}", "--per-page", "17", "--out", out, env=env)
        assert result.code == 0, result.err
    assert first.read_bytes() == again.read_bytes()
    rows = read_job(first)
    want = expected(sim, assigned_to=ALICE, solved=False, action="none")
    assert [int(r["conversation_id"]) for r in rows] == want
    shares = Counter(r["assigned_user_id"] for r in rows)
    assert set(shares) == {BOB, CAROL} and abs(shares[BOB] - shares[CAROL]) <= 1
    assert [r["assigned_user_id"] for r in rows[:3]] == [BOB, CAROL, BOB]
    alice_solved = expected(sim, assigned_to=ALICE, solved=True, action="none")

    result = cli("run", first, "--yes", env=env)

    assert result.code == 0, result.err
    report = read_report(tmp_path / "leaver.report.csv")
    assert [r["outcome"] for r in report] == ["ok"] * len(rows)
    assert {r["assignee_before"] for r in report} == {ALICE}  # context carried through
    convs = sim.call(lambda s: dict(s.state.conversations))
    for row in rows:
        assert convs[int(row["conversation_id"])].assigned_user_id == row["assigned_user_id"]
    still_alice = sorted(c.id for c in convs.values() if c.assigned_user_id == ALICE)
    assert still_alice == alice_solved  # only the solved ones, which were not asked for


def test_the_nightly_close_stale_job_runs_to_the_expected_state(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=N)
    env = sim_env(sim)
    before = sim.call(lambda s: {c.id: (c.is_solved, c.assigned_user_id)
                                 for c in s.state.conversations.values()})
    out = tmp_path / "stale.csv"
    assert cli("select", "--stale-days", "20", "--as-of", "2023-02-15", "--unsolved",
               "--action", "close", "--out", out, env=env).code == 0
    stale = set(expected(sim, stale_days=20, solved=False))

    result = cli("run", out, "--yes", env=env)

    assert result.code == 0, result.err
    assert f"{len(stale)} rows: {len(stale)} ok" in result.out
    after = sim.call(lambda s: {c.id: (c.is_solved, c.assigned_user_id)
                                for c in s.state.conversations.values()})
    for cid, (solved, assignee) in after.items():
        assert (solved, assignee) == ((True, before[cid][1]) if cid in stale else before[cid])
    # Run again the next night: nothing is stale and unsolved any more.
    assert cli("select", "--stale-days", "20", "--as-of", "2023-02-15", "--unsolved",
               "--action", "close", "--out", out, "--overwrite", env=env).code == 0
    assert read_job(out) == []


def test_429s_mid_pagination_are_waited_out_without_losing_or_repeating_a_page(
        tmp_path, make_sim, cli):
    # The server allows 3 requests at once, then one per 50 ms, and says so in Retry-After.
    sim = make_sim(n_conversations=N, rate_per_minute=1200, burst=3,
                   faults=Faults(retry_after_header="0.05"))
    out = tmp_path / "all.csv"
    result = cli("select", "--action", "unassign", "--per-page", "15", "--out", out,
                 env=sim_env(sim))
    assert result.code == 0, result.err
    ids = [int(r["conversation_id"]) for r in read_job(out)]
    assert ids == expected(sim, action="unassign") and len(ids) == len(set(ids))
    gets = sim.call(lambda s: [r for r in s.state.log.records if r.method == "GET"])
    statuses = [r.status for r in gets]
    assert 429 in statuses and statuses.index(429) > 0  # mid-listing, after a page
    pages = [parse_qs(r.query).get("cursor", [""])[0] for r in gets if r.status == 200]
    assert len(pages) == N // 15 and len(set(pages)) == len(pages)  # each page once
    throttled = statuses.count(429)
    assert f"{throttled} x 429" in result.out


def test_a_bad_key_stops_with_exit_3_and_no_job_file(tmp_path, make_sim, cli):
    sim = make_sim()
    result = cli("select", "--action", "close", "--out", tmp_path / "j.csv",
                 env=sim_env(sim, PARTOO_API_KEY="wrong-key-123"))
    assert result.code == 3 and "401" in result.err and "check PARTOO_API_KEY" in result.err
    assert "no job file was written" in result.err
    assert list(tmp_path.iterdir()) == []
    assert "wrong-key-123" not in result.out + result.err and "Traceback" not in result.err


def test_a_key_revoked_mid_listing_leaves_no_half_job(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=N)
    real = sim.simulator.state.list_conversations
    calls = []

    def revoke_after_three(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            sim.simulator.keys.discard(SECRET)
        return real(*args, **kwargs)

    sim.simulator.state.list_conversations = revoke_after_three
    result = cli("select", "--action", "close", "--per-page", "10", "--out",
                 tmp_path / "j.csv", env=sim_env(sim))
    assert result.code == 3 and "page 4" in result.err and "401" in result.err
    assert list(tmp_path.iterdir()) == []


def test_an_api_that_stays_down_stops_the_listing_after_its_retries(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=N)
    real = sim.simulator.state.list_conversations
    calls = []

    def down_after_two(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise ApiError(503, {"errors": {"server": "down"}})
        return real(*args, **kwargs)

    sim.simulator.state.list_conversations = down_after_two
    result = cli("select", "--action", "close", "--per-page", "10", "--max-attempts", "3",
                 "--out", tmp_path / "j.csv", env=sim_env(sim))
    assert result.code == 3 and "503" in result.err and "no job file was written" in result.err
    assert len(calls) == 2 + 3 and list(tmp_path.iterdir()) == []


def test_unknown_fields_and_new_enum_values_are_tolerated(tmp_path, make_sim, cli):
    sim = make_sim()
    state = sim.simulator.state
    plain = state.conversation_json

    def with_surprises(conv):
        data = plain(conv)
        data["status"] = "Snoozed" if conv.id % 2 else data["status"]  # a new enum value
        data["priority"] = {"level": "urgent", "since": None}
        data["business"]["id"] = int(data["business"]["id"])  # as in a webhook example
        return data

    state.conversation_json = with_surprises
    out = tmp_path / "j.csv"
    result = cli("select", "--business", "4101", "--action", "close", "--out", out,
                 env=sim_env(sim))
    assert result.code == 0, result.err
    want = expected(sim, businesses={"4101"})
    assert [int(r["conversation_id"]) for r in read_job(out)] == want


def test_an_existing_job_file_is_never_overwritten_silently(tmp_path, make_sim, cli):
    sim = make_sim()
    out = tmp_path / "job.csv"
    out.write_text("precious\n")
    result = cli("select", "--action", "close", "--out", out, env=sim_env(sim))
    assert result.code == 2 and "--overwrite" in result.err
    assert out.read_text() == "precious\n" and sim.state.log.stats()["requests"] == 0
    assert cli("select", "--action", "close", "--out", out, "--overwrite",
               env=sim_env(sim)).code == 0
    assert out.read_text().startswith("conversation_id,status,")


@pytest.mark.parametrize(("flags", "message"), [
    (["--action", "close"], "PARTOO_API_KEY is not set"),
    (["--assign-round-robin", f"{BOB},{BOB}"], "more than once"),
    (["--assigned-to", ALICE, "--assign-round-robin", f"{ALICE},{BOB}"], "rotation"),
    (["--assigned-to", ALICE, "--assign", ALICE], "same user"),
    (["--stale-days", "0", "--action", "close"], "1 or more"),
    (["--stale-days", "5", "--as-of", "last tuesday", "--action", "close"], "not a date"),
    (["--as-of", "2024-01-01", "--action", "close"], "only counts with --stale-days"),
    (["--per-page", "500", "--action", "close"], "1..100"),
    (["--business", "4101,,4102", "--action", "close"], "empty or spaced business id"),
])
def test_usage_errors_exit_2_without_sending(tmp_path, make_sim, cli, flags, message):
    sim = make_sim()
    env = sim_env(sim)
    if message.startswith("PARTOO_API_KEY"):
        env.pop("PARTOO_API_KEY")
    result = cli("select", *flags, "--out", tmp_path / "j.csv", env=env)
    assert result.code == 2 and message in result.err, result.err
    assert "Traceback" not in result.err and list(tmp_path.iterdir()) == []
    assert sim.state.log.stats()["requests"] == 0


def test_awkward_business_names_survive_the_job_file_and_the_run(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=30)
    names = {"4101": 'Chez "Paul", Bastille;\nétage 2', "4102": "=HYPERLINK(\"x\")"}
    sim.call(lambda s: s.state.businesses.update(names))
    out = tmp_path / "job.csv"
    assert cli("select", "--business", "4101,4102", "--action", "close", "--out", out,
               env=sim_env(sim)).code == 0
    rows = read_job(out)
    assert {r["business_name"] for r in rows} == {names["4101"], "'" + names["4102"]}
    result = cli("run", out, "--yes", env=sim_env(sim))
    assert result.code == 0, result.err
    report = read_report(tmp_path / "job.report.csv")
    assert [r["business_name"] for r in report] == [r["business_name"] for r in rows]
