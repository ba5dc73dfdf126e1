"""Asking the operator a question: on their terminal, never on stdout.

`input()` writes its prompt to stdout, so `partoo-bulk run JOB > out.txt` used to wait on
a question nobody saw. The question (and what it is about: the plan, the canary) goes to
the controlling terminal, `/dev/tty`, as sudo and ssh ask theirs, and the answer is
read from there, whatever stdin, stdout and stderr are redirected to (on Windows, the
console: `CONOUT$` and `CONIN$`). Without a controlling terminal, stdin (if it is a
terminal) answers a question shown on stderr.

Only someone at a terminal is asked: stdin or stderr must be one. A cron job, a CI step
or a test harness gets `None` (the caller refuses without --yes) and never a prompt on
a terminal that happens to be open elsewhere.
"""

from __future__ import annotations

import sys
from typing import TextIO
from urllib.parse import urlsplit

from worker.config.finishby import seconds_left, shown
from worker.core.errors import StartupError
from worker.jobfile.plan import Plan
from worker.run.request import RunRequest
from worker.sending.signals import interrupting

__all__ = ["Terminal", "confirm_run", "open_terminal", "window_of"]

# The operator's terminal, to write the question to and read the answer from.
_TERMINAL_OUT, _TERMINAL_IN = (("CONOUT$", "CONIN$") if sys.platform == "win32"
                               else ("/dev/tty", "/dev/tty"))


class Terminal:
    def __init__(self, out: TextIO, answers: TextIO, *, owned: bool) -> None:
        self._out, self._answers, self._owned = out, answers, owned

    def say(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def ask(self, question: str) -> bool:
        """True for y / yes; anything else, or the end of input, is no. A stop signal
        while waiting (Ctrl-C, SIGTERM, SIGHUP: the terminal closed) ends the command
        there: `StopSignal`, a `KeyboardInterrupt` (exit 130). Inside a run's event loop
        asyncio's own Ctrl-C handler would only cancel its task, and the task cannot
        notice while it blocks on this read: the `^C` was swallowed, the next `y` started
        a run already torn down."""
        try:
            with interrupting():  # before the question shows: no answer comes unguarded
                self._out.write(f"{question} [y/N] ")
                self._out.flush()
                answer = self._answers.readline()
        except KeyboardInterrupt:
            self._out.write("\n")  # the next line (the CLI's "interrupted") on its own
            self._out.flush()
            raise
        if not answer:  # end of input: no answer is not a yes
            self._out.write("\n")
        return answer.strip().lower() in ("y", "yes")

    def close(self) -> None:
        if self._owned:
            self._out.close()
            self._answers.close()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_terminal() -> Terminal | None:
    """The operator's terminal, or None when nobody is at one."""
    if not (_isatty(sys.stdin) or _isatty(sys.stderr)):
        return None
    try:
        out = open(_TERMINAL_OUT, "w", encoding="utf-8")
    except OSError:  # no controlling terminal (setsid, some containers)
        if _isatty(sys.stdin):
            return Terminal(sys.stderr, sys.stdin, owned=False)
        return None
    try:
        answers = open(_TERMINAL_IN, encoding="utf-8", errors="replace")
    except OSError:
        out.close()
        return None
    return Terminal(out, answers, owned=True)


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed, or a stand-in without a file
        return False


def confirm_run(req: RunRequest, plan: Plan, kept: tuple[int, int]) -> None:
    """Show the plan and ask before anything is sent. Raises `StartupError` on a no."""
    host = urlsplit(req.settings.base_url).netloc
    undo = req.undo_out is not None
    kept_rows, kept_sent = kept
    to_send = plan.total_requests(undo=undo, guards=req.guards, kept_sent=kept_sent)
    up_to = "up to " if kept_rows else ""
    terminal = open_terminal()
    if terminal is None:
        raise StartupError(f"refusing to send {up_to}{to_send} requests to {host} without "
                           "confirmation: no terminal to ask on. Pass --yes (check the job "
                           "first with `partoo-bulk plan JOB`)")
    # A stop signal from here on ends the command before anything is sent (SIGTERM's
    # default would kill it, leaving the lock and the job's copy that it made).
    with terminal, interrupting(enabled=req.handle_signals):
        terminal.say(plan.describe(req.settings.rate_per_minute, undo=undo,
                                   guards=req.guards, kept_sent=kept_sent,
                                   window=window_of(req)))
        if kept_rows:
            terminal.say(f"resuming: {kept_rows} of these rows are done in {req.report} and "
                         "are kept, not sent again")
        question = f"Send {up_to}{to_send} requests to {host}?"
        if req.canary:
            question = (f"Send the first {req.canary} rows to {host} as a canary (then see "
                        f"what holds before the rest of the {up_to}{to_send} requests)?")
        if not terminal.ask(question):
            raise StartupError("cancelled: nothing was sent")


def window_of(req: RunRequest) -> tuple[str, float] | None:
    """`--finish-by` as `Plan.describe` takes it: (the time shown, seconds left now)."""
    if req.finish_by is None:
        return None
    return shown(req.finish_by), seconds_left(req.finish_by)
