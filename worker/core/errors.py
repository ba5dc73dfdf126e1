"""The errors partoo-bulk raises, as a tree whose branches are decisions.

    PartooBulkError
    ├── StartupError            the command cannot start; nothing was sent (exit 2)
    │   ├── ConfigError         settings, flags, environment, config file
    │   ├── JobFileError        the job file cannot be read as a job
    │   └── ReportError         the report cannot be written or resumed
    ├── RunAborted              a started run had to stop (report unwritable) (exit 3)
    └── RequestError            one request did not end in success
        ├── TransientError      worth retrying: the same request may succeed later
        │   ├── RateLimited     429; carries the server's Retry-After
        │   ├── ServerError     5xx, or a 408
        │   └── NetworkError    timeout, reset, refused, a body cut short
        └── PermanentError      retrying cannot help; the row is reported `failed`
            ├── Rejected        the API refused this row (400, 403, 404, 409, 422, ...)
            ├── Unexpected      an answer that is not Partoo's (redirect, 200 with HTML, ...)
            └── Unauthorized    401: the key itself is bad, so the whole run must stop

`fault` is the one rule for whose fault a failure is (`Fault`), decided here, by the
class the answer was classified as (`worker.partoo.answers`), and carried into the
report's `fault` column: an *outage* (a transient error, or an answer that is not
Partoo's: a wrong base URL, a proxy's page) is the server's, so the circuit breaker
counts it and the row is sent again in place (`--resume --retry-failed`) once the API is
well; a *refusal* (Partoo's own JSON 4xx) is the row's, to fix. The breaker, the run's
summary, `report` and its next steps all read `fault`; none decides again by status.

`may_have_applied` marks the answers that do not say whether the change landed: a 5xx
(the server may fail after applying it), a connection lost or a timeout once the request
was out, a 200 that is not Partoo's success answer. The row's work reads such a row's
conversation back before reporting it failed (`worker.sending.row`).

aiohttp and asyncio exceptions are translated into this tree in one place, the HTTP
client (`worker.partoo.client`). No message here ever contains the API key: the client never
puts headers into errors, and nothing else holds the key.
"""

from __future__ import annotations

from worker.core.exitcodes import ExitCode
from worker.core.outcomes import Fault

__all__ = [
    "ConfigError",
    "JobFileError",
    "NetworkError",
    "PartooBulkError",
    "PermanentError",
    "RateLimited",
    "Rejected",
    "ReportError",
    "RequestError",
    "RunAborted",
    "ServerError",
    "StartupError",
    "TransientError",
    "Unauthorized",
    "Unexpected",
]


class PartooBulkError(Exception):
    """Root of every error partoo-bulk raises on purpose."""


class StartupError(PartooBulkError):
    """The command cannot start. The message says what is wrong, where, and what to do."""

    exit_code = ExitCode.COULD_NOT_START


class ConfigError(StartupError):
    pass


class JobFileError(StartupError):
    pass


class ReportError(StartupError):
    pass


class RunAborted(PartooBulkError):
    """A run that had started could not go on; its report is valid up to its last line."""

    exit_code = ExitCode.ABORTED


class RequestError(PartooBulkError):
    """One request did not succeed. `http_status` is None when no HTTP answer came back."""

    may_have_applied = False
    fault = Fault.REFUSED  # see the module's docstring: set per class, never per status

    def __init__(self, message: str, *, http_status: int | None = None,
                 may_have_applied: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        if may_have_applied is not None:
            self.may_have_applied = may_have_applied


class TransientError(RequestError):
    """`retry_after_s` is the server's Retry-After, when it sent a usable one."""

    fault = Fault.OUTAGE

    def __init__(self, message: str, *, http_status: int | None = None,
                 retry_after_s: float | None = None,
                 may_have_applied: bool | None = None) -> None:
        super().__init__(message, http_status=http_status, may_have_applied=may_have_applied)
        self.retry_after_s = retry_after_s


class RateLimited(TransientError):
    def __init__(self, message: str, *, retry_after_s: float | None) -> None:
        super().__init__(message, http_status=429, retry_after_s=retry_after_s)


class ServerError(TransientError):
    may_have_applied = True  # a 5xx may come after the change was made


class NetworkError(TransientError):
    may_have_applied = True  # unless the connection was never made (the client says so)


class PermanentError(RequestError):
    pass


class Rejected(PermanentError):
    pass


class Unexpected(PermanentError):
    fault = Fault.OUTAGE  # not Partoo's answer: the address or a proxy, not the row


class Unauthorized(PermanentError):
    pass  # its rows are `skipped`, not failed: the key, not a row, is wrong
