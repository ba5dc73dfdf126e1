"""Shared pieces of the benchmarks: a simulator in a subprocess, job files, a worker run
measured from outside (wall time, peak RSS), and a plain-text table.

Everything runs on loopback. Nothing here asserts a timing: the scripts print figures
and targets side by side, and a reader (or CI) looks at them.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import resource
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
KEY = "sim-demo-key"


def partoo_bulk(python: str = PYTHON) -> str:
    """The installed console script, next to `python` (as a user runs it)."""
    script = Path(python).with_name("partoo-bulk")
    return str(script) if script.exists() else (shutil.which("partoo-bulk") or "partoo-bulk")


@contextmanager
def installed(source: Path = REPO) -> Iterator[str]:
    """The python of a fresh venv where `source`'s wheel is installed as a user installs
    it (bytecode compiled by pip): start-up figures of a wheel, not of the editable clone
    (whose import finder costs every process, `python -c pass` included, and whose
    sources have no bytecode where PYTHONDONTWRITEBYTECODE is set). The dependencies are
    this interpreter's: its site-packages is a path of the venv's (a .pth line), so its
    own .pth files (the editable finder) are not run there."""
    # pip where this interpreter has it; else uv (nox's venvs, made by uv, have no pip).
    uv = None if importlib.util.find_spec("pip") else (
        shutil.which("uv") or str(Path(PYTHON).with_name("uv")))
    with tempfile.TemporaryDirectory(prefix="partoo-wheel-") as tmp:
        root = Path(tmp)
        pip = [PYTHON, "-m", "pip", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "wheel", "--no-deps", "-w", str(root / "dist"), str(source)]
                       if uv is None else
                       [uv, "build", "--quiet", "--wheel", "--out-dir", str(root / "dist"),
                        str(source)], check=True, stdout=subprocess.DEVNULL)
        (wheel,) = (root / "dist").glob("*.whl")
        subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(root / "venv")],
                       check=True)
        python = str(root / "venv" / "bin" / "python")
        purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
        theirs = subprocess.run([python, "-c", purelib], check=True, capture_output=True,
                                text=True).stdout.strip()
        ours = subprocess.run([PYTHON, "-c", purelib], check=True, capture_output=True,
                              text=True).stdout.strip()
        Path(theirs, "_partoo_bench_deps.pth").write_text(ours + "\n", encoding="utf-8")
        install = ([*pip, "--python", python, "install"] if uv is None else
                   [uv, "pip", "install", "--quiet", "--python", python, "--compile-bytecode"])
        subprocess.run([*install, "--no-deps", "--no-index", str(wheel)], check=True,
                       stdout=subprocess.DEVNULL, env={k: v for k, v in os.environ.items()
                                                       if k != "PYTHONDONTWRITEBYTECODE"})
        yield python


@dataclass(frozen=True)
class ServerFiles:
    """A server's certificate chain and key, and the CA that issued it, as PEM files."""

    cert: Path
    key: Path
    ca: Path


def server_files(folder: Path) -> ServerFiles:
    """A CA made here (trustme, of the test extras) and a certificate from it for
    127.0.0.1 and localhost, written to `folder`."""
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    files = ServerFiles(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    files.cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(files.key))
    ca.cert_pem.write_to_path(str(files.ca))
    return files


class SimProcess:
    """The simulator (`sim_server.py`) in a subprocess, on a free loopback port.

    `rate_per_minute=None` serves without any rate limit; `latency_s` answers every request
    that late; `tls` (`TestCA.server_files()`) serves https. `arrivals()` reads back every
    /v2 request the server saw: (arrival time, status, sent by partoo-bulk);
    `most_in_flight()` the most of ours it held at once; `connections()` over how many
    connections ours came.
    """

    script = "sim_server.py"

    def __init__(self, rate_per_minute: float | None, burst: int = 1, *,
                 conversations: int = 1000, latency_s: float = 0.0,
                 tls: ServerFiles | None = None) -> None:
        cmd = [PYTHON, str(REPO / "bench" / self.script), "--port", "0",
               "--conversations", str(conversations)]
        if rate_per_minute is not None:
            cmd += ["--rate-per-minute", str(rate_per_minute), "--burst", str(burst)]
        if latency_s:
            cmd += ["--latency-s", f"{latency_s:g}"]
        if tls is not None:
            cmd += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
        # The bench's own reads of /_bench (urllib) trust the server's CA, nothing else.
        self._client_tls = None if tls is None else ssl.create_default_context(
            cafile=str(tls.ca))
        self._cmd = cmd
        self.proc: subprocess.Popen[str] | None = None
        self.root_url = ""

    def __enter__(self) -> SimProcess:
        self.proc = subprocess.Popen(self._cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("Partoo simulator: "):
            self.__exit__()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.root_url = line.split(": ", 1)[1].strip().removesuffix("/v2")
        return self

    @property
    def base_url(self) -> str:
        return self.root_url + "/v2"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.root_url + path, timeout=60,
                                    context=self._client_tls) as resp:
            return json.load(resp)

    def stats(self) -> dict[str, Any]:
        return self.get("/_sim/stats")

    def arrivals(self) -> list[tuple[float, int, bool]]:
        """(server clock, status, sent by partoo-bulk) of every /v2 request, in order."""
        data = self.get("/_bench/arrivals")
        return list(zip(data["at"], data["status"], map(bool, data["ours"]), strict=True))

    def arrivals_since(self, index: int) -> tuple[int, list[float]]:
        """(requests seen so far, the arrival times from the index-th on): cheap to poll."""
        data = self.get(f"/_bench/arrivals?since={index}")
        return int(data["count"]), [float(t) for t in data["at"]]

    def most_in_flight(self) -> int:
        return int(self.get("/_bench/arrivals")["most_in_flight"])

    def connections(self) -> int:
        """The connections that carried partoo-bulk's requests so far."""
        return int(self.get(f"/_bench/arrivals?since={1 << 62}")["connections"])

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server process has used so far."""
        assert self.proc is not None
        return process_cpu_s(self.proc.pid)

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class MinServer(SimProcess):
    """`min_server.py`: the least server that answers the worker's PATCHes (no logic)."""

    script = "min_server.py"

    def __init__(self) -> None:
        super().__init__(None)


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's children reaped so far: the
    difference around a `first_request_and_exit_s` is that child's own."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_job(path: Path, rows: int, *, distinct_ids: int | None = None) -> Path:
    """`conversation_id,status` rows closing ids 1..distinct_ids, cycling if rows exceed it."""
    distinct = distinct_ids or rows
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("conversation_id,status\n")
        chunk: list[str] = []
        for i in range(rows):
            chunk.append(f"{i % distinct + 1},closed\n")
            if len(chunk) == 10_000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))
    return path


@dataclass
class Measured:
    """A child process measured from outside: exit code, wall time, peak RSS."""

    code: int
    wall_s: float
    peak_rss_mb: float
    cpu_s: float = 0.0
    stdout: str = ""
    stderr: str = ""
    summary: dict[str, float] = field(default_factory=dict)
    summary_json: dict[str, Any] = field(default_factory=dict)


def measure(cmd: Sequence[str], env: dict[str, str] | None = None,
            timeout_s: float = 3600, cwd: Path = REPO) -> Measured:
    """Run `cmd` to completion; peak RSS from wait4() is this child's own, nothing else."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        deadline = started + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.002)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, wall, usage.ru_maxrss / 1024,
                        usage.ru_utime + usage.ru_stime, out.read(), err.read())


def worker_env(base_url: str, rate_per_minute: float, concurrency: int | None,
               **extra: str) -> dict[str, str]:
    """The environment a user would set; any PARTOO_* of the caller's shell is dropped.
    `concurrency=None` leaves PARTOO_CONCURRENCY unset: the worker's default.
    PYTHONDONTWRITEBYTECODE is dropped too: an installed package has its bytecode, and a
    shell (a sandbox, a CI image) that forbids writing it would have every run compile
    the worker's sources again, ~0.1 s of CPU that no user pays."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PARTOO_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PARTOO_API_KEY=KEY, PARTOO_BASE_URL=base_url,
               PARTOO_RATE_PER_MINUTE=f"{rate_per_minute:g}")
    if concurrency is not None:
        env["PARTOO_CONCURRENCY"] = str(concurrency)
    env.update(extra)
    return env


_SUMMARY = re.compile(r"(?P<rows>\d+) rows.*?(?P<ok>\d+) ok, (?P<failed>\d+) failed.*?"
                      r"(?P<requests>\d+) requests, (?P<throttled>\d+) x 429.*?"
                      r"\((?P<rate>[\d.]+) req/min\)")


def run_worker(job: Path, env: dict[str, str], timeout_s: float = 3600, *,
               script: str | None = None) -> Measured:
    """`partoo-bulk run JOB --yes --quiet`, as a user (or cron) runs it (`script`: another
    install's console script). The summary line is parsed into `summary`, the
    `--summary-json` file into `summary_json`."""
    report = job.with_name(job.stem + ".report.csv")
    summary_json = job.with_name(job.stem + ".summary.json")
    cmd = [script or partoo_bulk(), "run", str(job), "--yes", "--quiet", "--overwrite",
           "--report", str(report), "--summary-json", str(summary_json)]
    result = measure(cmd, env, timeout_s)
    match = _SUMMARY.search(result.stdout)
    if match:
        result.summary = {k: float(v) for k, v in match.groupdict().items()}
    if summary_json.exists():
        result.summary_json = json.loads(summary_json.read_text(encoding="utf-8"))
    if result.code not in (0, 1):
        sys.stderr.write(f"bench: partoo-bulk exited {result.code}:\n{result.stderr[-2000:]}")
    return result


def first_request_s(server: SimProcess, cmd: Sequence[str], env: dict[str, str], *,
                    kill_on_first: bool = False, timeout_s: float = 600) -> float:
    """Seconds from just before `cmd` starts to the first request the server saw after.

    Both clocks are CLOCK_MONOTONIC (this process's and the server's `time.monotonic`),
    so the figure is the server's own view. `kill_on_first`: the process is killed once
    its first request arrived (a long job need not run to its end); otherwise it must
    exit 0 or 1."""
    return first_request_and_exit_s(server, cmd, env, kill_on_first=kill_on_first,
                                    timeout_s=timeout_s)[0]


def first_request_and_exit_s(server: SimProcess, cmd: Sequence[str], env: dict[str, str],
                             *, kill_on_first: bool = False, timeout_s: float = 600,
                             ) -> tuple[float, float]:
    """`first_request_s`, and the seconds from the same start to the process's exit."""
    seen, _ = server.arrivals_since(1 << 62)
    started = time.monotonic()
    proc = subprocess.Popen(list(cmd), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        while True:
            _, times = server.arrivals_since(seen)
            if times or proc.poll() is not None:
                break
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"{cmd[:2]}: no request within {timeout_s:g} s")
            time.sleep(0.01)
        if kill_on_first:
            proc.kill()
        _, err = proc.communicate()
        exited = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not kill_on_first and proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[:2]}: exit {proc.returncode}: {err[-500:]}")
    _, times = server.arrivals_since(seen)
    if not times:
        raise RuntimeError(f"{cmd[:2]}: no request reached the server: {err[-500:]}")
    return times[0] - started, exited


def killed_report(job: Path, report: Path, env: dict[str, str], rows: int,
                  full: Callable[[int], int]) -> None:
    """A report as `partoo-bulk run JOB` leaves it when killed with its first `rows` rows
    written: the side files (meta, the job's pinned copy) from a real run killed early,
    its report then carried on to `rows` lines in the format of its own last line (row
    number and conversation id changed; `full(row)` is the row's conversation id)."""
    from worker.core.columns import Col

    cmd = [partoo_bulk(), "run", str(job), "--yes", "--quiet", "--overwrite",
           "--report", str(report)]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if report.exists() and report.read_bytes().count(b"\n") > 2:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    with open(report, encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f))
    header, written = lines[0], lines[1:-1]  # the last one may be cut short
    template = written[-1]
    with open(report, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        chunk = []
        for row in range(1, rows + 1):
            cells = list(template)
            cells[Col.ROW], cells[Col.CONVERSATION_ID] = str(row), str(full(row))
            chunk.append(cells)
            if len(chunk) == 10_000:
                out.writerows(chunk)
                chunk.clear()
        out.writerows(chunk)


def max_in_window(times: Sequence[float], width_s: float = 1.0) -> int:
    """The most events in any half-open window [t, t + width_s) (times need not be sorted)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - width_s:
            start += 1
        best = max(best, end - start + 1)
    return best


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="partoo-bench-") as d:
        yield Path(d)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [title, line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def quick_flag(argv: Sequence[str] | None = None) -> bool:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    return parser.parse_args(argv).quick
