"""`select`'s pieces without HTTP: tolerant reading, the funnel, the rotation, the writer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.core.columns import REPORT_COLUMNS
from worker.core.errors import ConfigError
from worker.core.operations import Action, Override
from worker.jobfile.reader import open_job
from worker.jobfile.writer import JobWriter, check_out_path
from worker.select.filters import Criteria, build_funnel
from worker.select.listed import read_conversation
from worker.select.pipeline import CONTEXT_COLUMNS
from worker.select.target import Target, parse_team

U1, U2, U3 = "62d80fae74e8b11d700302b8", "62d80fae74e8b11d700302b9", "63a1c2d3e4f5a6b7c8d9e0f1"


def conv(**fields):
    base = {"id": 7, "status": "Open", "is_solved": False, "is_expired": False,
            "assigned_user_id": U1, "created_at": "2023-01-31 16:22:17.327878+00:00",
            "business": {"id": "4101", "name": "Bastille"}, "last_message": None}
    base.update(fields)
    return base


def test_the_documented_shape_is_read():
    c = read_conversation(conv(last_message={"date": "2023-02-03 10:00:00.000001+00:00"}))
    assert c is not None
    assert (c.id, c.business_id, c.business_name, c.is_solved, c.is_expired, c.assignee) == \
        (7, "4101", "Bastille", False, False, U1)
    assert c.last_activity == datetime(2023, 2, 3, 10, 0, 0, 1, tzinfo=UTC)


def test_unknown_fields_and_enum_values_do_not_break_reading():
    c = read_conversation(conv(status="Archived", channel="carrier_pigeon", is_solved="maybe",
                               new_thing={"deep": [1, 2]}, business={"id": 4101}))
    assert c is not None and c.business_id == "4101"  # an integer business id is fine too
    assert c.is_solved is None  # not a boolean: unknown, not False
    assert c.is_expired is False  # the flag wins over an unknown status


@pytest.mark.parametrize(("fields", "expected"), [
    ({"last_message": None}, datetime(2023, 1, 31, 16, 22, 17, 327878, tzinfo=UTC)),
    ({"last_message": {"date": "2023-02-01T08:00:00Z"}}, datetime(2023, 2, 1, 8, tzinfo=UTC)),
    ({"last_message": {"date": "2023-02-01 10:00:00+02:00"}}, datetime(2023, 2, 1, 8, tzinfo=UTC)),
    ({"last_message": {"date": "2023-02-01 08:00:00"}}, datetime(2023, 2, 1, 8, tzinfo=UTC)),
    ({"last_message": {"date": "yesterday"}}, None),  # a message we cannot date: unknown
    ({"last_message": {"content": "hi"}}, None),
    ({"last_message": None, "created_at": None}, None),
])
def test_last_activity_falls_back_to_created_at_only_without_a_message(fields, expected):
    c = read_conversation(conv(**fields))
    assert c is not None and c.last_activity == expected


@pytest.mark.parametrize("raw", [None, "x", {}, {"id": None}, {"id": True}, {"id": -3},
                                 {"id": "12a"}, {"id": 0}])
def test_entries_without_a_usable_id_are_dropped(raw):
    assert read_conversation(raw) is None


def test_expired_falls_back_to_status_and_an_absent_assignee_is_unknown():
    raw = conv(status="Closed")
    del raw["is_expired"], raw["assigned_user_id"]
    c = read_conversation(raw)
    assert c is not None and c.is_expired is True and not c.assignee_known


def listed(**fields):
    c = read_conversation(conv(**fields))
    assert c is not None
    return c


def test_the_funnel_counts_each_filter_and_drops_what_it_cannot_tell():
    funnel = build_funnel(
        Criteria(businesses=frozenset({"4101"}), solved=False,
                 stale_before=datetime(2023, 3, 1, tzinfo=UTC), stale_days=30),
        Target(Action.CLOSE))
    items = [listed(id=1), listed(id=2, business={"id": "4102"}), listed(id=3, is_solved=True),
             listed(id=4, last_message={"date": "2023-04-01 00:00:00+00:00"}),
             listed(id=5, last_message={"date": "garbage"}), listed(id=6, business=None),
             listed(id=1)]  # listed twice
    kept = [c.id for c in items if funnel.admit(c)]
    assert kept == [1]
    lines = "\n".join(funnel.lines())
    assert "listed once (the API repeated some): 6 kept, 1 dropped" in lines
    assert "business in 4101: 4 kept, 1 dropped, 1 without a business id (dropped)" in lines
    assert "unsolved: 3 kept, 1 dropped" in lines
    assert "no activity for 30 days" in lines
    assert "1 kept, 1 dropped, 1 without a readable date (dropped)" in lines


def test_the_actions_own_rules_keep_what_they_cannot_tell():
    reopen = build_funnel(Criteria(), Target(Action.OPEN))
    assert not reopen.admit(listed(id=1, is_solved=True, is_expired=True))  # cannot re-open
    assert not reopen.admit(listed(id=2, is_solved=False))  # already open
    assert reopen.admit(listed(id=3, is_solved=True))
    assert reopen.admit(listed(id=4, is_solved="?", is_expired="?", status="Snoozed"))
    assign = build_funnel(Criteria(), Target(Action.ASSIGN, U2))
    assert not assign.admit(listed(id=5, assigned_user_id=U2))
    assert assign.admit(listed(id=6, assigned_user_id=None))
    unassign = build_funnel(Criteria(unassigned=False), Target(Action.UNASSIGN))
    assert not unassign.admit(listed(id=7, assigned_user_id=None))


def test_assignee_filters():
    mine = build_funnel(Criteria(assigned_to=U1), Target.rotation((U2, U3)))
    nobody = build_funnel(Criteria(unassigned=True), Target(Action.CLOSE))
    raw = conv(id=9)
    del raw["assigned_user_id"]
    unknown = read_conversation(raw)
    assert mine.admit(listed(id=1)) and not mine.admit(listed(id=2, assigned_user_id=U2))
    assert not mine.admit(unknown)
    assert nobody.admit(listed(id=3, assigned_user_id=None))
    assert nobody.admit(listed(id=4, assigned_user_id="unassigned"))
    assert not nobody.admit(listed(id=5)) and not nobody.admit(unknown)


def test_the_rotation_is_even_in_order_and_deterministic():
    def deal(n):
        target = Target.rotation((U1, U2, U3))
        return [target.cell() for _ in range(n)], target

    cells, target = deal(10)
    assert cells[:4] == [U1, U2, U3, U1]
    assert sorted(target.dealt.values()) == [3, 3, 4]
    assert deal(10)[0] == cells
    assert target.column == "assigned_user_id" and f"{U1} (4)" in target.describe()


@pytest.mark.parametrize(("text", "leaver", "message"), [
    (f"{U1},,{U2}", None, "empty user id"), ("", None, "empty user id"),
    (f"{U1},{U1}", None, "more than once"), (f"{U1},unassigned", None, "not a user"),
    (f"{U1},{U2}", U2, "both --assigned-to and in the rotation"),
    (f"{U1},a b", None, "spaces"),
])
def test_bad_rotations_are_refused(text, leaver, message):
    with pytest.raises(ValueError, match=message):
        parse_team(text, leaver)


def test_fixed_targets_write_the_apis_own_values():
    assert [Target.fixed(Override(a)).cell() for a in (Action.CLOSE, Action.OPEN,
                                                       Action.UNASSIGN)] == \
        ["closed", "open", "unassigned"]
    assert Target.fixed(Override(Action.CLOSE)).column == "status"
    assert Target.fixed(Override(Action.ASSIGN, U1)).cell() == U1


def test_context_columns_never_collide_with_report_or_action_columns():
    assert not set(CONTEXT_COLUMNS) & {*REPORT_COLUMNS, "status", "assigned_user_id"}


def test_the_writer_gives_the_file_its_name_only_on_commit(tmp_path):
    out = tmp_path / "job.csv"
    with JobWriter(out, ["conversation_id", "status", "business_name"],
                   overwrite=False) as writer:
        writer.write(["1", "closed", "=HYPERLINK()"])
        assert not out.exists() and len(list(tmp_path.iterdir())) == 1
        writer.commit()
    assert out.read_text() == "conversation_id,status,business_name\n1,closed,'=HYPERLINK()\n"
    assert list(tmp_path.iterdir()) == [out]
    job = open_job(out)
    assert job.extra_columns == ("business_name",)


def test_a_failure_leaves_no_file_at_all(tmp_path):
    out = tmp_path / "job.csv"
    with pytest.raises(RuntimeError), JobWriter(out, ["conversation_id"],
                                                overwrite=False) as writer:
        writer.write(["1"])
        raise RuntimeError("listing failed")
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_appears_during_the_listing_is_not_replaced(tmp_path):
    out = tmp_path / "job.csv"
    with pytest.raises(ConfigError, match="appeared"), \
            JobWriter(out, ["conversation_id"], overwrite=False) as writer:
        out.write_text("someone else's\n")
        writer.commit()
    assert out.read_text() == "someone else's\n" and list(tmp_path.iterdir()) == [out]
    with JobWriter(out, ["conversation_id"], overwrite=True) as writer:
        writer.commit()
    assert out.read_text() == "conversation_id\n"


def test_out_paths_are_checked_before_anything_is_sent(tmp_path):
    (tmp_path / "there.csv").write_text("x")
    for path, message in ((tmp_path, "is a folder"), (tmp_path / "no" / "j.csv", "does not"),
                          (tmp_path / "there.csv", "--overwrite")):
        with pytest.raises(ConfigError, match=message):
            check_out_path(path, overwrite=False)
    check_out_path(tmp_path / "there.csv", overwrite=True)
