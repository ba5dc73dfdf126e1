"""Test helpers: a behavioural sender, engines built as a run builds them, job files
written and reports read, settings for the simulator, the worker as a real process.
Fixtures live in conftest.py."""

from __future__ import annotations

import asyncio
import csv
import os
import pty
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from worker.core.errors import NetworkError
from worker.core.operations import Action, Operation
from worker.core.outcomes import Result
from worker.sending.concurrency import Concurrency, spare_for
from worker.sending.control import RunControl
from worker.sending.engine import Engine
from worker.sending.ratelimit import RateLimiter
from worker.sending.requester import Requester
from worker.sending.retrypolicy import RetryPolicy
from worker.sending.row import RowWork
from worker.simulator import SimulatorThread

SECRET = "sk-test-5f1d9c0e-DO-NOT-LEAK"


@dataclass
class FakeSender:
    """Answers per conversation from a script (exceptions to raise, or 200), then 200.

    Records when each request started and ended (loop time), and the most requests
    that were ever in flight at once.
    """

    latency_s: float = 0.05
    script: dict[int, list[object]] = field(default_factory=dict)
    calls: list[tuple[float, float, int, dict]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    async def __call__(self, op: Operation) -> int:
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency_s)
            steps = self.script.get(op.conversation_id)
            answer = steps.pop(0) if steps else 200
            if isinstance(answer, BaseException):
                raise answer
            return 200
        finally:
            self.in_flight -= 1
            self.calls.append((start, loop.time(), op.conversation_id, op.body()))


def ops(n: int, *, first_id: int = 1, action: Action = Action.CLOSE) -> list[Operation]:
    return [Operation(row=i + 1, conversation_id=first_id + i, action=action)
            for i in range(n)]


def make_engine(send, limiter, policy, *, concurrency=4, window=5000, breaker=None,
                read_back=None, capture=None, aimd=None, guard_max_age_s=30.0) -> Engine:
    """An engine doing a run's row work (`RowWork`) with `send` as the PATCH and
    `read_back` as the GET (none given: every read fails, as an API whose reads are
    down), built as `worker.sending.stack.pacing` builds a run's: one gate, shared by the
    engine and the request path, with the spare rows the limiter's rate needs."""
    control = RunControl()
    gate = Concurrency(concurrency, spare=spare_for(limiter.max_rate_per_s))
    watchers = [w for w in (aimd, breaker) if w is not None]
    requester = Requester(limiter, policy, control, watchers=watchers, concurrency=gate)
    work = RowWork(requester, send, read_back or no_reads, capture=capture,
                   guard_max_age_s=guard_max_age_s)
    return Engine(work, control, concurrency=gate, window=window)


async def no_reads(op: Operation):
    """A conversation's GET in a test of the changes alone: it never answers."""
    raise NetworkError("cannot connect to the API (reads are down in this test)",
                       may_have_applied=False)


async def run_engine(items, sender, *, rate_per_minute=6000.0, burst=1, concurrency=4,
                     max_attempts=3, window=5000, breaker=None, budget_s=900.0,
                     stop_after=None, read_back=None,
                     capture=None) -> tuple[Engine, list[Result]]:
    limiter = RateLimiter(rate_per_minute, burst, jitter=0)  # exact spacing to assert on
    policy = RetryPolicy(max_attempts=max_attempts, rate_limit_budget_s=budget_s,
                         max_retry_after_s=120.0)
    engine = make_engine(sender, limiter, policy, concurrency=concurrency, window=window,
                         breaker=breaker, read_back=read_back, capture=capture)
    results: list[Result] = []
    await engine.run(items, results.append)
    return engine, results



def sim_env(sim: SimulatorThread, **extra: str) -> dict[str, str]:
    env = {"PARTOO_API_KEY": SECRET, "PARTOO_BASE_URL": sim.base_url,
           "PARTOO_RATE_PER_MINUTE": "60000", "PARTOO_CONCURRENCY": "8",
           "PARTOO_REQUEST_TIMEOUT_S": "1", "PARTOO_BACKOFF_BASE_S": "0.02",
           "PARTOO_BACKOFF_MAX_S": "0.2"}
    env.update(extra)
    return env


def csv_dialect(path: Path) -> tuple[str, bool]:
    """(delimiter, BOM or not) of a CSV of ours: the BOM from the first bytes; a report's
    delimiter is the one after its first column, `row`; another file's, the one its
    header line has more of."""
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    header = data[3 if bom else 0:].split(b"\n", 1)[0]
    if header.startswith(b"row") and header[3:4] in (b",", b";"):
        return header[3:4].decode(), bom
    return (";" if header.count(b";") > header.count(b",") else ","), bom


def read_report(path: Path) -> list[dict[str, str]]:
    """A report in either dialect (`,` or `;`, a BOM or not) as dicts by column name."""
    return read_csv(path)


def write_job(path: Path, rows: list[tuple], header=("conversation_id", "status",
                                                     "assigned_user_id")) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


__all__ = ["SECRET", "FakeSender", "csv_dialect", "make_engine", "ops", "read_report",
           "run_engine", "sim_env", "write_job"]


# --- the worker as a real process -------------------------------------------------------


def start_worker(job: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    full_env.update(env)
    return subprocess.Popen([sys.executable, "-m", "worker", "run", str(job), "--yes",
                             *args], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def wait_for_lines(report: Path, lines: int, proc: subprocess.Popen, timeout_s=30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if report.exists() and report.read_text(encoding="utf-8").count("\n") > lines:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"the report never reached {lines} lines")


# --- TLS: a company's CA, made here and trusted nowhere ----------------------------------


def company_ca(folder: Path):
    """A CA made here (trustme) and its PEM file in `folder`: what `ca_bundle` or
    SSL_CERT_FILE names. Returns (the CA, the file)."""
    import trustme  # a test dependency; only the TLS tests pay its import

    ca = trustme.CA()
    bundle = folder / "company-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ca, bundle


def server_tls(ca, *names: str):
    """A server's TLS context holding a certificate from `ca` for `names` (default: the
    loopback's), for `Simulator(ssl_context=)` and the stand-in proxies."""
    import ssl

    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1", "localhost"))).configure_cert(server)
    return server


def tls_env(sim: SimulatorThread, **extra: str) -> dict[str, str]:
    """`sim_env`, with time for TLS handshakes (and a proxy) on a loaded machine."""
    return sim_env(sim, PARTOO_REQUEST_TIMEOUT_S="20", **extra)


# --- the world moving behind the tool's back ---------------------------------------------


def change_by_hand(sim: SimulatorThread, cid: int, **fields: object) -> dict:
    """Change conversation `cid` as another agent or a customer would: over HTTP, through
    the simulator's `POST /_sim/conversations/ID`, so it works while a run is sending."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{sim.simulator.root_url}/_sim/conversations/{cid}", method="POST",
        data=json.dumps(fields).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def read_csv(path: Path) -> list[dict[str, str]]:
    """Any CSV of ours (a job, an undo job, a journal), in either dialect, as dicts by
    column name."""
    delimiter, _bom = csv_dialect(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))
# --- a terminal, a runbook ----------------------------------------------------------

JOBS = Path(__file__).resolve().parent.parent / "jobs"


def ask_on_a_terminal(args, env, answers: list[str], out_file) -> tuple[int, str]:
    """The worker on a real pseudo-terminal (its controlling terminal), stdout redirected
    to a file, as `partoo-bulk run JOB > out.txt` typed at a terminal."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    full_env.update(env)
    command = " ".join([sys.executable, "-m", "worker", *args]) + f" > {out_file}"
    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is its terminal, stdin and stderr
        os.execvpe("sh", ["sh", "-c", command], full_env)
    seen = b""
    pending = list(answers)
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal: it has exited
            break
        if not chunk:
            break
        seen += chunk
        if pending and seen.rstrip().endswith(b"[y/N]"):
            os.write(master, pending.pop(0).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


def script(name: str, *args: str, env: dict[str, str], cwd: Path):
    full = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    full.update(env, PARTOO_BULK=f"{sys.executable} -m worker")
    return subprocess.run(["bash", str(JOBS / name), *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def run_refused_with(tmp_path, cli, reason: object):
    """`run -v` of a one-row job against a server that refuses every request with 400
    and `reason` as Partoo's error text: what the terminal shows of a server's words."""
    from aiohttp import web

    from stand_ins import ServerThread

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"errors": {"json": {"status": reason}}}, status=400)

    server = ServerThread(refuse)
    root = server.start()
    try:
        job = write_job(tmp_path / "job.csv", [("1", "closed", "")])
        return cli("run", job, "--yes", "-v", env={
            "PARTOO_API_KEY": SECRET, "PARTOO_BASE_URL": root + "/v2",
            "PARTOO_REQUEST_TIMEOUT_S": "5"})
    finally:
        server.stop()
