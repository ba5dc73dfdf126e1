"""Conversation ids have one parser (`worker.core.operations.parse_conversation_id`): an id
`select` writes is one `run` sends. Through the real CLI against the simulator."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

from helpers import sim_env

HUGE = 2**63  # one past the largest id Partoo (and `run`) accepts


def test_select_drops_a_listed_id_past_2_63_with_a_message_so_run_never_rejects_its_job(
        tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=20)

    def add_huge(s):
        model = next(c for c in s.state.conversations.values() if not c.is_solved)
        s.state.conversations[HUGE] = replace(model, id=HUGE)
        return model.id

    sim.call(add_huge)
    out = tmp_path / "job.csv"

    result = cli("select", "--unsolved", "--action", "close", "--out", out, "--json",
                 env=sim_env(sim))

    assert result.code == 0, result.err
    assert json.loads(result.out)["without_usable_id"] == 1
    assert "too large to be a conversation id" in result.err and str(HUGE) in result.err
    with open(out, encoding="utf-8", newline="") as f:
        ids = [r["conversation_id"] for r in csv.DictReader(f)]
    assert ids and str(HUGE) not in ids

    plan = json.loads(cli("plan", out, "--json", env={}).out)
    assert plan["invalid"] == 0 and plan["exit_code"] == 0
    run = cli("run", out, "--yes", "--quiet", env=sim_env(sim))
    assert run.code == 0, run.err
