"""A stop signal at the confirmation prompt, on a real terminal: the command ends there,
exit 130, nothing sent and no file left beside the report (`R.lock`, `R.job.csv.tmp`).

The simulator runs as its own process (`partoo-bulk simulate`), so that this test's
process has no thread when it forks the worker onto a pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from helpers import write_job

_KEY = "sim-demo-key"  # what `partoo-bulk simulate` accepts


@dataclass
class SimProcess:
    base_url: str
    root_url: str

    def requests(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.root_url}/_sim/log", timeout=5) as answer:
            return json.loads(answer.read())


@pytest.fixture
def sim_process() -> Iterator[SimProcess]:
    with socket.socket() as s:  # a free loopback port, given to the simulator
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "worker", "simulate", "--port", str(port),
                             "--conversations", "50"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Partoo simulator: "), first
        base_url = first.split(": ", 1)[1].strip()
        yield SimProcess(base_url, base_url.rsplit("/", 1)[0])
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def on_a_terminal(args: list[str], env: dict[str, str], *at_prompts) -> tuple[int, str]:
    """The worker with a pty as its controlling terminal, stdin and stderr; at its n-th
    question, `at_prompts[n](pid, master)`. Returns the exit code and what it showed."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    full.update(env)
    pid, master = pty.fork()
    if pid == 0:
        os.execvpe(sys.executable, [sys.executable, "-m", "worker", *args], full)
    seen, since, asked = b"", 0, 0
    deadline = time.monotonic() + 60
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child has exited and closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if asked < len(at_prompts) and seen[since:].rstrip().endswith(b"[y/N]"):
            since = len(seen)
            asked += 1
            at_prompts[asked - 1](pid, master)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    assert asked == len(at_prompts), seen
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


def sim_settings(sim: SimProcess) -> dict[str, str]:
    return {"PARTOO_API_KEY": _KEY, "PARTOO_BASE_URL": sim.base_url,
            "PARTOO_RATE_PER_MINUTE": "60000", "PARTOO_REQUEST_TIMEOUT_S": "5"}


def ctrl_c_then_yes(pid: int, master: int) -> None:
    os.write(master, b"\x03")  # the terminal's Ctrl-C: SIGINT to its foreground group
    time.sleep(0.3)  # the operator, seeing nothing happen, answers
    try:
        os.write(master, b"y\n")
    except OSError:
        pass  # the command has ended already: as it should


def signal_at_prompt(sig: signal.Signals):
    def send(pid: int, master: int) -> None:
        os.kill(pid, sig)
    return send


@pytest.mark.parametrize("at_prompt", [
    pytest.param(ctrl_c_then_yes, id="ctrl-c-then-y"),
    pytest.param(signal_at_prompt(signal.SIGTERM), id="SIGTERM"),
    pytest.param(signal_at_prompt(signal.SIGHUP), id="SIGHUP"),
    pytest.param(signal_at_prompt(signal.SIGQUIT), id="SIGQUIT"),
])
def test_a_stop_at_the_prompt_ends_the_command_with_nothing_sent_or_left(
        tmp_path, sim_process, at_prompt):
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 6)])
    code, terminal = on_a_terminal(["run", str(job)], sim_settings(sim_process), at_prompt)
    assert code == 130, terminal
    assert "Traceback" not in terminal
    assert "interrupted" in terminal
    assert not [r for r in sim_process.requests() if r["method"] == "PATCH"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.csv"]  # no lock, no copy


@pytest.mark.parametrize("at_prompt", [
    pytest.param(ctrl_c_then_yes, id="ctrl-c-then-y"),
    pytest.param(signal_at_prompt(signal.SIGTERM), id="SIGTERM"),
])
def test_a_stop_at_the_canarys_question_sends_none_of_the_rest(tmp_path, sim_process,
                                                               at_prompt):
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 9)])

    def yes(pid: int, master: int) -> None:
        os.write(master, b"y\n")

    # The plan's question, answered yes: the canary is sent; then the canary's.
    code, terminal = on_a_terminal(["run", str(job), "--canary", "2"],
                                   sim_settings(sim_process), yes, at_prompt)
    assert code == 130, terminal
    assert "Traceback" not in terminal
    patched = sorted(r["conversation_id"] for r in sim_process.requests()
                     if r["method"] == "PATCH")
    assert patched == [1, 2]
    assert "--resume" in terminal
