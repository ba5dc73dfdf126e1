"""What an installed partoo-bulk carries: package data, one version, true requirements.

The demo job and the example settings live in worker/data/ (read with importlib.resources,
so `partoo-bulk demo` works from a wheel); jobs/demo.csv and config.example.toml at the
top of a clone are symlinks to them. The built sdist and wheel are checked member by
member: real files, the tests the sdist must carry, every module of the package.
`PARTOO_BULK_DIST=DIR` points at an sdist and a wheel already built (CI builds them
once); otherwise they are built here with `python -m build`.
"""

from __future__ import annotations

import ast
import email.parser
import importlib.metadata
import os
import stat
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import worker
from worker.commands.demo import demo_job
from worker.config import Settings, load_settings
from worker.jobfile.reader import open_job

ROOT = Path(__file__).resolve().parents[2]
DATA = {"jobs/demo.csv": "demo.csv", "config.example.toml": "config.example.toml",
        "jobs/close-stale.sh": "runbooks/close-stale.sh",
        "jobs/reassign-leaver.sh": "runbooks/reassign-leaver.sh"}


def package_data(name: str) -> bytes:
    return resources.files("worker").joinpath("data", *name.split("/")).read_bytes()


@pytest.mark.parametrize("top", list(DATA))
def test_the_files_at_the_top_of_the_tree_are_the_package_data(top):
    """One source of truth: the clone's copy (a symlink) is byte for byte the packaged one."""
    assert (ROOT / top).read_bytes() == package_data(DATA[top]), (
        f"{top} differs from worker/data/{DATA[top]}: edit worker/data/ and keep {top} "
        f"a symlink to it (ln -sf)")


def test_the_demo_job_is_read_from_the_package_not_the_clone():
    packaged = Path(str(resources.files("worker").joinpath("data", "demo.csv")))
    assert demo_job() == packaged and demo_job().is_file()
    assert demo_job().resolve().parent == Path(worker.__file__).resolve().parent / "data"
    items = list(open_job(demo_job()).items())
    # The demo shows every kind of row: some are sent, some are invalid.
    assert {type(i).__name__ for i in items} == {"Operation", "Result"}


def test_the_example_settings_load_and_state_every_default(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PARTOO_"):
            monkeypatch.delenv(name)
    text = package_data("config.example.toml")
    example = resources.files("worker").joinpath("data", "config.example.toml")
    with resources.as_file(example) as path:
        assert load_settings(path) == Settings()
    # The settings with no value by default are there, commented out (TOML has no null).
    unset = {"api_key", "proxy", "ca_bundle"}
    assert set(tomllib.loads(text.decode())) == set(Settings.model_fields) - unset
    assert all(f"\n# {name} = " in text.decode() for name in unset)


def test_the_version_is_written_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert importlib.metadata.version("partoo-bulk") == worker.__version__


def test_the_runtime_requirements_have_true_floors_and_no_test_cap():
    runtime = {r.name: r for r in map(Requirement, importlib.metadata.requires("partoo-bulk"))
               if r.marker is None}
    assert set(runtime) == {"aiohttp", "tenacity", "pydantic", "pydantic-settings", "rich",
                            "prometheus_client", "shtab", "truststore"}
    aiohttp = runtime["aiohttp"].specifier
    # 3.10 lacks ClientSession._retry_connection, and 4 may drop it (tests/partoo/
    # test_session.py); 3.14 is capped only for aioresponses, in the test extras.
    assert not aiohttp.contains("3.10.11") and aiohttp.contains("3.11.0")
    assert aiohttp.contains("3.14.5") and not aiohttp.contains("4.0")
    for name, requirement in runtime.items():
        assert any(s.operator == ">=" for s in requirement.specifier), f"{name} has no floor"


# --- the built distributions ------------------------------------------------------------

@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    given = os.environ.get("PARTOO_BULK_DIST")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    return out


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {dist}, found {found}"
    return found[0]


def _source_files(folder: str, pattern: str) -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / folder).glob(pattern)
                  if "__pycache__" not in p.parts)


def test_the_sdist_holds_the_tests_and_data_as_real_files(dist):
    with tarfile.open(_one(dist, "partoo_bulk-*.tar.gz")) as sdist:
        members = {m.name.split("/", 1)[1]: m for m in sdist.getmembers() if "/" in m.name}
        wanted = (_source_files("tests", "*.py") + _source_files("jobs", "*")
                  + ["config.example.toml", "LICENSE", "worker/py.typed",
                     "worker/data/demo.csv", "worker/data/config.example.toml",
                     *_source_files("worker/data/runbooks", "*.sh")])
        assert "tests/conftest.py" in wanted
        for name in wanted:
            assert name in members, f"the sdist lacks {name}"
            assert members[name].isreg(), f"{name} is not a regular file in the sdist"
            held = sdist.extractfile(members[name]).read()
            assert held == (ROOT / name).read_bytes(), f"{name} differs in the sdist"


def test_the_wheel_holds_every_module_the_data_and_py_typed(dist):
    with zipfile.ZipFile(_one(dist, "partoo_bulk-*.whl")) as wheel:
        infos = {i.filename: i for i in wheel.infolist()}
        runbooks = _source_files("worker/data/runbooks", "*.sh")
        wanted = [*_source_files("worker", "**/*.py"), "worker/py.typed",
                  "worker/data/demo.csv", "worker/data/config.example.toml", *runbooks]
        assert runbooks, "no runbook in worker/data/runbooks"
        for name in wanted:
            assert name in infos, f"the wheel lacks {name}"
            assert not stat.S_ISLNK(infos[name].external_attr >> 16), f"{name} is a symlink"
            assert wheel.read(name) == (ROOT / name).read_bytes(), f"{name} differs"
        for name in runbooks:  # runnable in place too (`runbook install` sets the mode anyway)
            assert infos[name].external_attr >> 16 & 0o111, f"{name} is not executable"
        assert not [n for n in infos if n.startswith(("tests/", "jobs/", "bench/"))]
        meta_name = next(n for n in infos if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(wheel.read(meta_name).decode())
    assert meta["Version"] == worker.__version__
    assert meta["License-Expression"] == "MIT"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert meta.get_all("Project-URL")
    runtime = [Requirement(r) for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    aiohttp = next(r for r in runtime if r.name == "aiohttp")
    assert aiohttp.specifier.contains(Version("3.14.5"))


# --- the test environment -----------------------------------------------------------------

def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _marked(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Attribute) and d.attr == "aioresponses" for d in fn.decorator_list)


def test_every_test_that_uses_aioresponses_is_marked():
    """Unmarked, it would fail (or pass vacuously) under an aiohttp aioresponses cannot mock."""
    modules = {p: ast.parse(p.read_text()) for p in sorted((ROOT / "tests").glob("*.py"))}
    functions = [(p, fn) for p, tree in modules.items() for fn in tree.body
                 if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)]
    uses = {"aioresponses"}
    uses |= {fn.name for _p, fn in functions
             if not fn.name.startswith("test_") and "aioresponses" in _names(fn)}
    unmarked = [f"{p.name}::{fn.name}" for p, fn in functions
                if fn.name.startswith("test_") and _names(fn) & uses and not _marked(fn)]
    assert unmarked == [], "add @pytest.mark.aioresponses to these tests"
