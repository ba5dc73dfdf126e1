"""https start-up, and the CPU each new TLS connection costs the client (issue 23).

The simulator serves the same job twice in the same run: over plain http (the baseline)
and over https, its certificate from a CA made here (`_common.server_files`) that the
worker is given with PARTOO_CA_BUNDLE, as a user with a company CA would. Measured on
the installed wheel (`_common.installed`; `--source DIR` for another checkout: main, for
a before), the two runs alternately, each `partoo-bulk run JOB --yes --quiet` on 500
rows at 1,000,000/min and concurrency 64 (64 connections opened at once, as a run ramps
up):
- process start -> first request, as the server saw it (`first_request_and_exit_s`);
- the process's CPU to its exit (user + system, from the kernel's account of the reaped
  child), and over how many connections its requests came (the server counts them); the
  https run's CPU beyond the http run's, per connection: a TLS handshake plus whatever
  the context does at each connection (truststore on Linux reads the whole CA bundle
  again at each one);
- the first request of the same command at the default rate and concurrency (one row
  starts at a time: the preflight's connection, then one for the first request; killed
  once that request arrived): the start-up a user at the defaults waits for, and the
  process's CPU until it was killed (steadier than the wall time on a shared machine);
- for information, the context alone: CPU per `wrap_bio` (what asyncio calls for each
  new connection, before any byte is sent) of `worker.partoo.tls.ssl_context`, in the
  installed wheel's interpreter.
Medians over the rounds, and the best; each against the plain-http run's. SSL_CERT_FILE
and SSL_CERT_DIR are dropped from the worker's environment: OpenSSL's compiled-in paths,
as on a stock machine (set, SSL_CERT_FILE is also read as a named CA file: once more).

    .venv/bin/python bench/tls.py [--quick] [--source DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
from pathlib import Path

from _common import (
    REPO,
    SimProcess,
    children_cpu_s,
    first_request_and_exit_s,
    installed,
    partoo_bulk,
    server_files,
    table,
    workdir,
    worker_env,
    write_job,
)

JOB_ROWS = 500
CONCURRENCY = 64
WRAPS = 20

# Run in the installed wheel's interpreter: CPU ms per wrap_bio of our context.
_WRAP_PROBE = """
import ssl, sys, time
from worker.partoo.tls import ssl_context
context = ssl_context(((sys.argv[1], "ca_bundle"),))
started = time.process_time()
for _ in range(int(sys.argv[2])):
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="127.0.0.1")
print((time.process_time() - started) * 1000 / int(sys.argv[2]))
"""


def _one_run(sim: SimProcess, cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(start -> first request s, CPU s to exit, connections) of one run of `cmd`. The
    simulators are children too, but still running: only the worker is reaped here."""
    connections = sim.connections()
    cpu = children_cpu_s()
    first, _ = first_request_and_exit_s(sim, cmd, env)
    return first, children_cpu_s() - cpu, sim.connections() - connections


def _env(sim: SimProcess, concurrency: int | None, extra: dict[str, str]) -> dict[str, str]:
    env = worker_env(sim.base_url, 1_000_000, concurrency, **extra)
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR"):  # OpenSSL's own paths
        env.pop(variable, None)
    return env


def run(quick: bool, source: Path = REPO) -> str:
    rounds = 3 if quick else 10
    with installed(source) as python, workdir() as d, \
            SimProcess(None, conversations=JOB_ROWS) as plain, \
            SimProcess(None, conversations=JOB_ROWS, tls=server_files(d)) as secure:
        ca = str(d / "ca.pem")
        job = write_job(d / "tls.csv", JOB_ROWS)
        cmd = [partoo_bulk(python), "run", str(job), "--yes", "--quiet", "--overwrite"]
        envs, defaults = {}, {}
        for name, sim, extra in (("http", plain, {}),
                                 ("https", secure, {"PARTOO_CA_BUNDLE": ca})):
            envs[name] = (sim, _env(sim, CONCURRENCY, extra))
            defaults[name] = (sim, {k: v for k, v in _env(sim, None, extra).items()
                                    if k != "PARTOO_RATE_PER_MINUTE"})
        seen: dict[str, list[tuple[float, float, int]]] = {"http": [], "https": []}
        slow: dict[str, list[tuple[float, float]]] = {"http": [], "https": []}
        for _ in range(rounds):
            for name, (sim, env) in envs.items():
                seen[name].append(_one_run(sim, cmd, env))
                sim, env = defaults[name]
                cpu_before = children_cpu_s()
                first, _ = first_request_and_exit_s(sim, cmd, env, kill_on_first=True)
                slow[name].append((first, children_cpu_s() - cpu_before))
        probe = subprocess.run([python, "-c", _WRAP_PROBE, ca, str(WRAPS)], check=True,
                               capture_output=True, text=True, env=envs["https"][1], cwd=d)
        wrap_ms = float(probe.stdout)
    first = {name: [r[0] for r in runs] for name, runs in seen.items()}
    cpu = {name: [r[1] for r in runs] for name, runs in seen.items()}
    conns = {name: statistics.median(r[2] for r in runs) for name, runs in seen.items()}
    base_first, base_cpu = statistics.median(first["http"]), statistics.median(cpu["http"])
    rows = []
    for name in ("http", "https"):
        extra_ms = (statistics.median(cpu[name]) - base_cpu) * 1000
        rows.append([f"{name}, {JOB_ROWS} rows, concurrency {CONCURRENCY}", len(first[name]),
                     statistics.median(first[name]) * 1000, min(first[name]) * 1000,
                     f"{statistics.median(first[name]) / base_first:.2f}x",
                     statistics.median(cpu[name]) * 1000,
                     f"{statistics.median(cpu[name]) / base_cpu:.2f}x", conns[name],
                     "" if name == "http" else extra_ms / conns[name]])
    slow_first = {name: [r[0] for r in runs] for name, runs in slow.items()}
    slow_cpu = {name: statistics.median(r[1] for r in runs) for name, runs in slow.items()}
    base_slow = statistics.median(slow_first["http"])
    for name in ("http", "https"):
        rows.append([f"{name}, default rate and concurrency", len(slow_first[name]),
                     statistics.median(slow_first[name]) * 1000,
                     min(slow_first[name]) * 1000,
                     f"{statistics.median(slow_first[name]) / base_slow:.2f}x",
                     slow_cpu[name] * 1000, f"{slow_cpu[name] / slow_cpu['http']:.2f}x",
                     "", ""])
    rows.append(["the context alone: CPU ms per wrap_bio", WRAPS, "", "", "", "", "", "",
                 wrap_ms])
    return table(
        f"https start-up of the installed wheel ({'this repository' if source == REPO else source})"
        ": fresh processes, against the same run over plain http; first request as the "
        "simulator saw it", ["run", "runs", "first req ms", "best ms", "vs http",
                             "CPU ms", "vs http", "connections", "extra CPU ms / conn"],
        rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 rounds, not 10 (CI)")
    parser.add_argument("--source", type=Path, default=REPO,
                        help="the checkout whose wheel to measure (default: this one)")
    args = parser.parse_args()
    print(run(args.quick, args.source.resolve()))
