"""The error tree is pinned name by name, with each class's parent: the engine, the
runner and the exit codes decide on these branches, so a change here is a decision.
"""

from __future__ import annotations

from worker.core import errors


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
