"""The README reads in a newcomer's order, and every pointer into it lands on a heading.

A newcomer installs, tries the simulator (a first run, `plan`, `report`, a stop and a
resume) and finds the runbooks before the reference; the contents' links, the README's
own `see "..."` pointers and the code's `README: ...` pointers name headings that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def headings() -> list[str]:
    """Every `##`/`###` heading's text, in order (none sits inside a code block)."""
    return re.findall(r"^#{2,3} (.+)$", README, flags=re.M)


def position(prefix: str) -> int:
    (index,) = [i for i, h in enumerate(headings()) if h.startswith(prefix)]
    return index


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_a_newcomer_meets_the_simulator_and_the_first_run_before_how_it_sends():
    newcomer = ["Contents", "Quick start", "Install", "Try it on the simulator", "A first run",
                "Check a job first: `plan`", "Read a report: `report`", "Stop and resume",
                "Commands", "Runbooks"]
    reference = ["Job file", "Report", "Configuration", "For scripts and monitoring",
                 "How it sends", "Exit codes", "Stopping and resuming", "Undo and verify",
                 "Building a job from the API: `select`", "Python API"]
    last = ["FAQ", "Development", "Layout"]
    order = [position(h) for h in newcomer + reference + last]
    assert order == sorted(order)


def test_the_contents_link_only_to_headings():
    contents = README.split("\n## Contents\n", 1)[1].split("\n## ", 1)[0]
    links = re.findall(r"\]\(#([^)]+)\)", contents)
    anchors = {github_anchor(h) for h in headings()}
    assert len(links) > 20
    assert [link for link in links if link not in anchors] == []
    sections = [h for h in re.findall(r"^## (.+)$", README, flags=re.M) if h != "Contents"]
    assert [h for h in sections if github_anchor(h) not in links] == []


def test_the_readmes_own_pointers_name_its_headings():
    pointers = set(re.findall(r'(?:see|in|\(|;)\s+"([A-Z][^"\n]*)"', README))
    assert {"How it sends", "Stopping and resuming", "Read a report", "Metrics"} <= pointers
    assert [p for p in pointers if not any(h.startswith(p) for h in headings())] == []


def test_the_codes_pointers_into_the_readme_name_its_headings():
    files = [*(ROOT / "worker").rglob("*.py"), *(ROOT / "worker" / "data").rglob("*.sh"),
             *(f for f in (ROOT / "examples").rglob("*") if f.is_file())]
    pointers = {}
    for file in files:
        for name in re.findall(r'README[:,]\s*(?:#\s*)?"?([A-Z][^")\n;,.]*)',
                               file.read_text(encoding="utf-8")):
            pointers.setdefault(name.strip(), file.relative_to(ROOT))
    assert len(pointers) >= 8
    missing = {p: f for p, f in pointers.items() if not any(h.startswith(p) for h in headings())}
    assert missing == {}
