"""CI's steps, one nox session each: `nox -s NAME` runs exactly what CI runs.

    nox -l                      # the sessions
    nox -s tests                # the README's `pytest -q`, in a fresh venv
    nox -s lowest -- -x tests/test_resume.py   # arguments after -- go to pytest

Each session makes its own venv with uv (installed with nox: `pip install nox uv`).
`.ci/run` builds the sdist and the wheel once and points PARTOO_BULK_DIST at them; a
session run by hand without it builds its own into the session's temporary folder.
The sessions that install the wheel run the clone's tests against that installed copy
(`pytest`, not `python -m pytest`, so `worker` is the installed one, not the clone's).
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.download_python = "never"  # only Pythons on this machine; no downloads
nox.options.error_on_missing_interpreters = True  # a missing 3.13 fails, never skips
nox.options.sessions = ["lint", "tests"]  # plain `nox`: what a developer runs before a push

ROOT = Path(__file__).resolve().parent
# aioresponses' tests must run, not skip, wherever aiohttp is below 3.14 (all but `newest`).
REQUIRE_AIORESPONSES = {"PARTOO_BULK_REQUIRE_AIORESPONSES": "1"}
# The versions a run used, printed at its start: the floors and the newest are the point.
SHOWN = ("aiohttp", "aioresponses", "tenacity", "pydantic", "pydantic-settings", "rich",
         "prometheus-client", "shtab", "pytest", "hypothesis")


def python313() -> str:
    """Python 3.13 as .ci/run always found it: pyenv's newest 3.13, else python3.13."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(f"{root}/versions/3.13*/bin/python3.13"))
    return found[-1] if found else (shutil.which("python3.13") or "3.13")


def dist(session: nox.Session, kind: str) -> str:
    """The wheel (kind "whl") or the sdist ("tar.gz"): PARTOO_BULK_DIST's, or built now."""
    folder = os.environ.get("PARTOO_BULK_DIST")
    if not folder:
        folder = session.create_tmp()
        session.run("uv", "build", "--quiet", "--out-dir", folder, str(ROOT), external=True)
    (found,) = glob.glob(f"{folder}/partoo_bulk-*.{kind}")
    return found


def show_versions(session: nox.Session) -> None:
    frozen = session.run("uv", "pip", "freeze", silent=True, external=True) or ""
    wanted = [line for line in frozen.splitlines()
              if line.split("==")[0].lower().replace("_", "-") in SHOWN]
    session.log("installed: " + ", ".join(wanted))


def suite_against_the_wheel(session: nox.Session, *install: str,
                            env: dict[str, str] | None = None) -> None:
    session.install(*install, f"partoo-bulk[test] @ file://{dist(session, 'whl')}")
    show_versions(session)
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs,
                env=env if env is not None else REQUIRE_AIORESPONSES)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, the layers contract (lint-imports) and the types (mypy, pydantic plugin)."""
    session.install("-e", ".[test,dev]")
    session.run("ruff", "check", "worker", "tests", "bench", "examples", "noxfile.py")
    session.run("lint-imports")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The README's test command, `pytest -q`, on the editable install. (.ci/run runs
    the same command in the venv it made the README's way, with pip, so as not to run
    the suite twice.)"""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs, env=REQUIRE_AIORESPONSES)


@nox.session
def lowest(session: nox.Session) -> None:
    """The suite against the wheel with the lowest versions pyproject.toml allows: uv
    resolves pyproject's dependencies and test extra at their floors (lowest-direct), and
    the wheel is installed under that resolution."""
    floors = Path(session.create_tmp()) / "floors.txt"
    session.run("uv", "pip", "compile", "--quiet", "--resolution", "lowest-direct",
                "--extra", "test", "pyproject.toml", "-o", str(floors), external=True)
    suite_against_the_wheel(session, "-c", str(floors))


@nox.session
def newest(session: nox.Session) -> None:
    """The suite with the newest versions, aiohttp included: the test extra's aiohttp<3.14
    (there for aioresponses only) is overridden, so aioresponses' tests skip, saying why."""
    overrides = Path(session.create_tmp()) / "newest-aiohttp.txt"
    overrides.write_text("aiohttp\n")
    session.posargs[:0] = ["-rs"]  # the skip reasons
    suite_against_the_wheel(session, "--override", str(overrides),
                            env={"PARTOO_BULK_REQUIRE_AIORESPONSES": ""})


@nox.session(python=python313())
def py313(session: nox.Session) -> None:
    """The suite against the wheel on Python 3.13 (pyenv's, as on CI's machine)."""
    suite_against_the_wheel(session)


@nox.session(name="wheel-demo")
def wheel_demo(session: nox.Session) -> None:
    """`partoo-bulk demo` and `partoo-bulk runbook install` from the wheel, in an empty
    folder: what a pipx or uv user has."""
    session.install(dist(session, "whl"))
    empty = Path(session.create_tmp()) / "empty"
    shutil.rmtree(empty, ignore_errors=True)
    empty.mkdir()
    session.chdir(empty)
    session.run("partoo-bulk", "demo")
    session.run("partoo-bulk", "runbook", "install", "jobs")
    check = Path(session.create_tmp()) / "check_the_wheel.py"
    check.write_text(WHEEL_CHECK)
    session.run("python", str(check))


WHEEL_CHECK = """
import csv, os
from importlib import resources
data = resources.files("worker").joinpath("data")
job = data.joinpath("demo.csv").read_text().splitlines()
report = list(csv.DictReader(open("partoo-bulk-demo.report.csv", encoding="utf-8")))
assert len(report) == len(job) - 1 > 0, (len(report), len(job))
shipped = sorted(p.name for p in data.joinpath("runbooks").iterdir() if p.name.endswith(".sh"))
installed = sorted(os.listdir("jobs"))
assert shipped and installed == shipped, (installed, shipped)
assert all(os.access(os.path.join("jobs", n), os.X_OK) for n in installed)
print(f"from the wheel: demo exit 0, {len(report)} report lines for {len(job) - 1} job rows; "
      f"runbooks installed: {', '.join(installed)}")
"""


@nox.session
def sdist(session: nox.Session) -> None:
    """The unpacked sdist's own tests, installed from the sdist: every test module must
    import from it (collection), and the unit tests and the packaging, runbook and
    imports tests run. The whole suite runs in three other sessions; a fourth run here
    would take CI over 19 minutes on 2 cores for what those already show."""
    tmp = Path(session.create_tmp())
    shutil.rmtree(tmp / "sdist", ignore_errors=True)
    (tmp / "sdist").mkdir()
    session.run("tar", "-xzf", dist(session, "tar.gz"), "-C", str(tmp / "sdist"),
                external=True)
    (tree,) = (tmp / "sdist").glob("partoo_bulk-*")
    session.install(f"{tree}[test]")
    session.chdir(tree)
    session.run("pytest", "-q", "-p", "no:cacheprovider", "--collect-only", "tests",
                silent=True)
    units = sorted(str(d) for d in Path("tests").iterdir()
                   if d.is_dir() and d.name not in {"e2e", "hostile", "__pycache__"})
    packaging = [f"tests/e2e/{name}.py" for name in
                 ("test_packaging", "test_runbook_cmd", "test_runbooks", "test_imports")]
    session.run("pytest", "-q", "-p", "no:cacheprovider", "-m", "not load", *units,
                *packaging, *session.posargs, env=REQUIRE_AIORESPONSES)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks in quick mode: figures only, no timing assertions (they must not rot)."""
    session.install("-e", ".[test]")
    session.run("python", "bench/run_all.py", "--quick", *session.posargs)


@nox.session
def kubernetes(session: nox.Session) -> None:
    """examples/kubernetes/*.yaml against the Kubernetes schema (strict: no unknown
    field), then its script against the simulator (tests/e2e/test_example_kubernetes.py)."""
    session.install("-e", ".[test]", "kubernetes-validate")
    session.run("kubernetes-validate", "--strict", *sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "examples" / "kubernetes").glob("*.yaml")))
    session.run("pytest", "-q", "-p", "no:cacheprovider",
                "tests/e2e/test_example_kubernetes.py", *session.posargs)


@nox.session
def airflow(session: nox.Session) -> None:
    """examples/airflow's DAG in real Airflow from PyPI (this session's venv: Airflow and
    the wheel), `airflow dags test` against the simulator: tests/e2e/test_example_airflow.py."""
    session.install("apache-airflow", f"partoo-bulk[test] @ file://{dist(session, 'whl')}")
    show_versions(session)
    session.run("airflow", "version")
    session.run("pytest", "-q", "-p", "no:cacheprovider", "-rs",
                "tests/e2e/test_example_airflow.py", *session.posargs)
