"""Each package's docstring names its modules and their one job: a newcomer reads the
`__init__` and knows where things are. This keeps that true as modules come and go:
every module of a package is named in its docstring (as `name`), and every dotted name
(`worker.package.module`) written in the package's text still resolves."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import worker

PACKAGE = Path(worker.__file__).parent
PACKAGES = sorted(p.parent for p in PACKAGE.rglob("__init__.py")
                  if "__pycache__" not in p.parts and p.parent != PACKAGE)
_NAMED = re.compile(r"`([a-z_][a-z0-9_]*)`")


def modules_of(package: Path) -> set[str]:
    return {p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")}


def docstring_of(package: Path) -> str:
    return ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_the_docstring_names_every_module_of_the_package(package):
    named = set(_NAMED.findall(docstring_of(package)))
    missing = modules_of(package) - named
    assert not missing, f"worker/{package.name}/__init__.py does not name {sorted(missing)}"


_DOTTED = re.compile(r"`(worker(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def resolves(dotted: str) -> bool:
    """`worker.a.b.C` names a module, or something in one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            thing = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(thing, name):
                return False
            thing = getattr(thing, name)
        return True
    return False


def test_every_worker_name_in_the_code_is_still_there():
    # A module that moved must not stay named where it was: every `worker.x.y` written
    # in a docstring or comment of the package resolves.
    stale = sorted({f"{path.relative_to(PACKAGE.parent)}: {name}"
                    for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts
                    for name in _DOTTED.findall(path.read_text())
                    if not resolves(name)})
    assert not stale, "names that are gone:\n" + "\n".join(stale)
