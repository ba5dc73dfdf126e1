"""The package's declared surface: every module says what it exports, and it exists.

The error tree is pinned name by name, with each class's parent: the engine, the
runner and the exit codes decide on these branches, so a change here is a decision.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import worker
from worker.core import errors

MODULES = sorted(m.name for m in pkgutil.walk_packages(worker.__path__, "worker.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_what_it_exports(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    assert len(set(exported)) == len(exported)


def test_the_error_tree_is_the_documented_one():
    tree = {name: getattr(errors, name).__mro__[1].__name__ for name in errors.__all__}
    assert tree == {
        "PartooBulkError": "Exception",
        "StartupError": "PartooBulkError",
        "ConfigError": "StartupError",
        "JobFileError": "StartupError",
        "ReportError": "StartupError",
        "RunAborted": "PartooBulkError",
        "RequestError": "PartooBulkError",
        "TransientError": "RequestError",
        "RateLimited": "TransientError",
        "ServerError": "TransientError",
        "NetworkError": "TransientError",
        "PermanentError": "RequestError",
        "Rejected": "PermanentError",
        "Unexpected": "PermanentError",
        "Unauthorized": "PermanentError",
    }
    assert (errors.StartupError.exit_code, errors.RunAborted.exit_code) == (2, 3)
    # Which answers leave it open whether the change landed (and so are read back).
    assert errors.ServerError("500").may_have_applied
    assert errors.NetworkError("reset").may_have_applied
    assert not errors.NetworkError("refused", may_have_applied=False).may_have_applied
    assert not errors.Rejected("404").may_have_applied
    assert not errors.RateLimited("429", retry_after_s=1.0).may_have_applied
