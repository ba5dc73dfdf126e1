"""A job file's header: which column is which, or why the header cannot be a job's.

Every refusal names the file, the header's line, and the fix; where a column name is a
near miss of one we need, it says which (a typo in `status` must not send the user to
`--action`, which would give every row the same action).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from worker.core.columns import JOB_COLUMNS, REPORT_COLUMNS
from worker.core.errors import JobFileError
from worker.core.guards import GUARD_COLUMNS
from worker.core.operations import Override, parse_conversation_id

__all__ = ["Layout", "header_layout", "plain_layout"]
ID, STATUS, ASSIGNEE = JOB_COLUMNS


@dataclass(frozen=True, slots=True)
class Layout:
    delimiter: str
    has_header: bool
    width: int  # cells a row may have
    id_col: int
    status_col: int | None
    assignee_col: int | None
    extra_cols: tuple[int, ...]
    extra_names: tuple[str, ...]
    # expect_status, expect_assignee, expect_no_message_after (worker.core.guards): also
    # among the extra columns, so the report, and a job made from it, carry them on
    guard_cols: tuple[int | None, int | None, int | None] = (None, None, None)


def plain_layout(delimiter: str) -> Layout:
    """A plain list of ids, one per line, no header."""
    return Layout(delimiter, False, 1, 0, None, None, (), ())


def header_layout(path: Path, line: int, delimiter: str, header: list[str],
                  override: Override | None) -> Layout:
    where = f"{path}, line {line}"
    # Excel writes empty names for trailing columns: give them one, so they stay apart.
    header = [h if h.strip() else f"column_{i + 1}" for i, h in enumerate(header)]
    names = [h.strip().lower() for h in header]
    if tuple(names[:5]) == REPORT_COLUMNS[:5]:
        raise JobFileError(f"{where}: this is a report of `partoo-bulk run`, not a job. To "
                           f"send its failed rows again: partoo-bulk report {path} --failed "
                           "retry.csv, then partoo-bulk run retry.csv")
    if ID not in names:
        hint = _near_miss(names, ID)
        if names and _is_id(names[0]):
            hint = (" This looks like a plain list of ids: pass --action close|open|unassign "
                    "or --assign USER_ID.")
        raise JobFileError(f"{where}: no '{ID}' column in the header {header!r}.{hint}")
    for name in dict.fromkeys(names):
        if names.count(name) > 1:
            cols = [str(i + 1) for i, n in enumerate(names) if n == name]
            raise JobFileError(f"{where}: column {name!r} appears more than once "
                               f"(columns {', '.join(cols)}): rename or remove the copies")
    status_col = names.index(STATUS) if STATUS in names else None
    assignee_col = names.index(ASSIGNEE) if ASSIGNEE in names else None
    has_action = status_col is not None or assignee_col is not None
    if override is not None and has_action:
        raise JobFileError(f"{where}: the file has its own action column(s) and "
                           "--action/--assign was given too: use one or the other")
    if override is None and not has_action:
        raise JobFileError(_no_action(where, names))
    fixed = {names.index(ID), status_col, assignee_col}
    extra_cols = tuple(i for i in range(len(names)) if i not in fixed)
    extra_names = tuple(header[i].strip() for i in extra_cols)
    for name in extra_names:
        if name.lower() in REPORT_COLUMNS:
            raise JobFileError(f"{where}: column {name!r} has the name of a report "
                               f"column: rename it (for example to job_{name})")
    for name in names:
        if name not in GUARD_COLUMNS and (
                name.startswith("expect_")
                or difflib.get_close_matches(name, GUARD_COLUMNS, n=1, cutoff=0.85)):
            # A guard that is silently not one would send what the operator meant to hold.
            raise JobFileError(f"{where}: column {name!r} is not a guard column: use "
                               f"{', '.join(GUARD_COLUMNS)} (README: Job file), or rename "
                               "it so that it does not look like one")
    g_status, g_assignee, g_after = (names.index(n) if n in names else None
                                     for n in GUARD_COLUMNS)
    return Layout(delimiter, True, len(header), names.index(ID), status_col, assignee_col,
                  extra_cols, extra_names, (g_status, g_assignee, g_after))


def _no_action(where: str, names: list[str]) -> str:
    typo = _near_miss(names, STATUS) or _near_miss(names, ASSIGNEE)
    if typo:
        return f"{where}: no action column.{typo}"
    return (f"{where}: no action column: add '{STATUS}' (open/closed) or '{ASSIGNEE}' (a "
            "user id or 'unassigned'); or, if every row gets the same action, pass "
            "--action close|open|unassign or --assign USER_ID")


# Names people give the id column, for the hint: none is accepted as it is (an `id` could
# as well be a business's or a user's), but each gets the rename suggested.
_ID_ALIASES = ("id", "conversation", "conversationid", "conversation_ids", "conv_id")


def _near_miss(names: list[str], wanted: str) -> str:
    squashed = {n.replace(" ", "_").replace("-", "_").lstrip("\ufeff"): n for n in names}
    close = difflib.get_close_matches(wanted, list(squashed), n=1, cutoff=0.6)
    if not close and wanted == ID:
        close = [n for n in squashed if n in _ID_ALIASES][:1]
    if not close:
        return ""
    return (f" If column {squashed[close[0]]!r} is meant to be '{wanted}', rename it to "
            f"'{wanted}'.")


def _is_id(text: str) -> bool:
    try:
        parse_conversation_id(text)
    except ValueError:
        return False
    return True
