"""The README's list of requirements is pyproject.toml's runtime dependencies, floors and all.

Read from pyproject.toml, so a dependency added there (and not to the README) fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def readme_requirements() -> dict[str, str]:
    """The README's "Requirements (...): name floor, name floor; ..." as name -> floor."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (paragraph,) = re.findall(r"^Requirements \(.*?\n\n", readme, flags=re.M | re.S)
    listed = paragraph.split("):", 1)[1].split(";", 1)[0]
    pairs = [item.split() for item in " ".join(listed.split()).split(", ")]
    return {canonicalize_name(name): floor for name, floor in pairs}


def pyproject_floors() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for requirement in map(Requirement, project["dependencies"]):
        (floor,) = [s.version for s in requirement.specifier if s.operator == ">="]
        floors[canonicalize_name(requirement.name)] = floor
    return floors


def test_the_readme_lists_every_runtime_dependency_with_its_floor():
    assert readme_requirements() == pyproject_floors()


def test_the_requirements_are_in_the_install_section():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"^Requirements \(", install, flags=re.M)
