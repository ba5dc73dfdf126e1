"""Soak: random jobs, random faults, kill -9 and --resume, then the report against the
server's own log. An independent checker of crash safety, not a test (it takes minutes).

    .venv/bin/python bench/soak.py --minutes 30 --seed 1 --out /tmp/soak

Each job: a simulator in a thread (its own seeded organization, faults, a rate limit
that answers 429s with Retry-After, latency), a random job file (close/open/assign/
unassign, repeated conversations, guarded rows, invalid rows, refused rows), then
`python -m worker run JOB --yes` as a subprocess killed -9 at a random moment, resumed
1-3 times (killed again, also while it writes R.partial), finished. Sometimes two
resumes at once (one must be refused, exit 2), sometimes a job file edited between the
kill and the resume (refused, exit 2; the file is then put back). Then the invariants
(`check_job`), each violation printed and kept in OUT/violations.jsonl with the job's
folder left in place.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from worker.core.columns import REPORT_COLUMNS
from worker.simulator import (
    ALICE,
    BOB,
    BOT_USER,
    CAROL,
    INACTIVE_USER,
    Faults,
    Simulator,
    SimulatorThread,
    seeded_state,
)

KEY = "soak-key"
USERS = (ALICE, BOB, CAROL)
WIDTH = len(REPORT_COLUMNS)  # the report's own columns


@dataclass
class Row:
    row: int
    cid: str  # as written in the job
    status: str = ""
    assignee: str = ""
    expect_status: str = ""
    expect_assignee: str = ""
    expect_no_message_after: str = ""
    valid: bool = True

    def body(self) -> dict:
        return {"status": self.status} if self.status else {"assigned_user_id": self.assignee}

    @property
    def field(self) -> str:
        return "status" if self.status else "assigned_user_id"


@dataclass
class RunRecord:
    kind: str  # first / resume / final / twin / edited
    args: list[str]
    start_seq: int
    end_seq: int = 0
    code: int | None = None  # None: killed
    killed_after_s: float | None = None
    out: str = ""
    err: str = ""
    new_lines: dict[int, list[str]] = field(default_factory=dict)  # rows this run reported


class Violation(Exception):
    pass


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


# --- the job ------------------------------------------------------------------------------


def conv_json(c) -> dict:
    return {"is_solved": c.is_solved, "assigned_user_id": c.assigned_user_id,
            "is_expired": c.is_expired, "last": c.last_message_date}


def make_job(rng: random.Random, state, n_rows: int) -> list[Row]:
    ids = list(state.conversations)
    # A few conversations take many rows: repeats in file order.
    hot = rng.sample(ids, k=max(3, len(ids) // 50))
    rows: list[Row] = []
    for r in range(1, n_rows + 1):
        u = rng.random()
        if u < 0.03:
            rows.append(Row(r, rng.choice(["abc", "-5", "", "1.5"]), status="closed",
                            valid=False))
            continue
        cid = rng.choice(hot) if rng.random() < 0.15 else rng.choice(ids)
        if rng.random() < 0.01:
            cid = 10_000_000 + r  # 404
        row = Row(r, str(cid))
        a = rng.random()
        if a < 0.3:
            row.status = "closed"
        elif a < 0.5:
            row.status = "open"  # every 10th is expired: 400
        elif a < 0.85:
            row.assignee = rng.choice(USERS + ((BOT_USER, INACTIVE_USER)
                                               if rng.random() < 0.05 else ()))
        else:
            row.assignee = "unassigned"
        if rng.random() < 0.01:
            row.status, row.assignee, row.valid = "clsed", "", False
        conv = state.conversations.get(cid)
        if conv is not None and row.valid and rng.random() < 0.3:
            g = rng.random()
            if g < 0.4:
                truth = "closed" if conv.is_solved else "open"
                if rng.random() < 0.15:
                    truth = "open" if truth == "closed" else "closed"
                row.expect_status = truth
            elif g < 0.8:
                who = conv.assigned_user_id or "unassigned"
                if rng.random() < 0.15:
                    who = rng.choice(USERS)
                row.expect_assignee = who
            else:
                row.expect_no_message_after = "2026-12-01T00:00:00Z"
        rows.append(row)
    return rows


def write_job(path: Path, rows: list[Row]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["conversation_id", "status", "assigned_user_id", "expect_status",
                    "expect_assignee", "expect_no_message_after", "note"])
        for r in rows:
            w.writerow([r.cid, r.status, r.assignee, r.expect_status, r.expect_assignee,
                        r.expect_no_message_after, f"n{r.row}"])


# --- reading what the worker wrote -------------------------------------------------------


def whole_lines(path: Path) -> list[list[str]]:
    """The whole CSV records of a report-like file (its torn last line dropped)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    cut = data.rfind(b"\n")
    if cut < 0:
        return []
    text = data[: cut + 1].decode("utf-8-sig")
    out = []
    for rec in csv.reader(io.StringIO(text)):
        if not rec or rec[0] == "row":
            continue
        if len(rec) < WIDTH:
            continue
        out.append(rec)
    return out


def snapshot_lines(report: Path) -> dict[str, list[list[str]]]:
    return {name: whole_lines(report.with_name(report.name + suffix))
            for name, suffix in (("report", ""), ("partial", ".partial"),
                                 ("ahead", ".ahead"))}


# --- one job -------------------------------------------------------------------------------


class Soak:
    def __init__(self, out: Path, seed: int, python: str) -> None:
        self.out = out
        self.seed = seed
        self.python = python
        self.cycles = 0
        self.jobs = 0
        self.violations: list[dict] = []
        self.scenarios: Counter[str] = Counter()

    def env(self, sim: SimulatorThread, rng: random.Random) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
        env.update({
            "PARTOO_API_KEY": KEY, "PARTOO_BASE_URL": sim.base_url,
            "PARTOO_REQUEST_TIMEOUT_S": str(rng.choice([0.5, 1, 2])),
            "PARTOO_BACKOFF_BASE_S": "0.02", "PARTOO_BACKOFF_MAX_S": "0.3",
            "PARTOO_MAX_RETRY_AFTER_S": "2",
            "PARTOO_CONCURRENCY": str(rng.choice([4, 8, 16, 32])),
            "PARTOO_SAME_REFUSAL_ROWS": "0",
            "XDG_CONFIG_HOME": str(self.out / "xdg"),
        })
        return env

    def run_job(self, i: int) -> None:
        rng = random.Random(self.seed * 100_003 + i)
        folder = self.out / f"job{i:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        n_rows = rng.choice([500, 500, 700, 800, 1000, 1200, 1500, 3000])
        n_conv = max(50, int(n_rows * rng.uniform(0.3, 0.9)))
        state = seeded_state(n_conv, seed=i)
        rows = make_job(rng, state, n_rows)
        # Behind the job's back before it runs: some guards no longer hold.
        for conv in rng.sample(list(state.conversations.values()), k=n_conv // 20):
            if rng.random() < 0.5:
                conv.is_solved = not conv.is_solved
            else:
                conv.assigned_user_id = rng.choice((None, *USERS))
        initial = {cid: conv_json(c) for cid, c in state.conversations.items()}
        rate = rng.choice([300, 600, 1200, 2400, 3600, 6000])
        # Short jobs at low rates: keep a job to about a minute or two of sending.
        n_rows_at_rate = n_rows / rate * 60
        if n_rows_at_rate > 20:
            rate = min(6000, max(rate, int(n_rows / 20 * 60)))
        sim_rate = rate * rng.choice([0.8, 0.95, 2.0]) if rng.random() < 0.6 else None
        p = rng.choice([0.0, 0.02, 0.05, 0.1])
        faults = Faults(
            error_before=p, error_after=p / 2, reset_before=p / 2, reset_after=p / 2,
            html_error=p / 4, slow=rng.choice([0.0, 0.02, 0.1]),
            slow_s=rng.choice([0.05, 0.3, 1.5]), on_get=rng.random() < 0.5,
            retry_after_header=rng.choice([None, "1", "0", "2", "garbage"]),
            seed=i)
        sim = SimulatorThread(Simulator(state, keys=(KEY,), rate_per_minute=sim_rate,
                                        burst=rng.choice([1, 5, 20]), faults=faults))
        sim.start()
        job = folder / "job.csv"
        report = folder / "job.report.csv"
        write_job(job, rows)
        undo = folder / "undo.csv" if rng.random() < 0.4 else None
        env = self.env(sim, rng)
        base = [self.python, "-m", "worker", "run", str(job), "--yes", "--quiet",
                "--rate-per-minute", str(rate), "--report", str(report)]
        if undo is not None:
            base += ["--undo-out", str(undo)]
        desc = (f"job{i:04d}: {n_rows} rows, {n_conv} convs, rate {rate}, sim rate {sim_rate}, "
                f"p={p} slow={faults.slow}x{faults.slow_s} undo={undo is not None} "
                f"conc={env['PARTOO_CONCURRENCY']} timeout={env['PARTOO_REQUEST_TIMEOUT_S']}")
        log(desc)
        expected_s = n_rows / rate * 60
        runs: list[RunRecord] = []
        seen: dict[int, set] = {}  # row -> every line any snapshot had for it
        try:
            kills = rng.randint(1, 3)
            for k in range(kills + 1):
                last = k == kills
                args = base + (["--resume"] if k else [])
                special = None
                if k and not last and rng.random() < 0.15:
                    special = "twin"
                elif k and rng.random() < 0.1:
                    special = "edited"
                if special == "edited":
                    self.edited_job(sim, job, args, env, runs, report)
                if special == "twin":
                    self.twin_resumes(sim, args, env, runs, report, seen, rng, expected_s)
                    continue
                kill_s = None if last else rng.uniform(0.5, max(1.0, expected_s * 0.5))
                mid_changes = rng.random() < 0.3
                rec = self.one_run(sim, "final" if last else ("first" if not k else "resume"),
                                   args, env, kill_s, report, seen, rng=rng,
                                   mid_changes=mid_changes, rows=rows)
                runs.append(rec)
            # The last run may stop on the breaker (exit 3): resume until it ends.
            for _ in range(4):
                if runs[-1].code in (0, 1):
                    break
                sim.set_faults(Faults())
                rec = self.one_run(sim, "final", [*base, "--resume", "--retry-failed"], env,
                                   None, report, seen, rng=rng)
                runs.append(rec)
            self.check_job(folder, sim, rows, initial, runs, report, undo, env)
            self.jobs += 1
        except Violation as exc:
            self.record(folder, desc, str(exc))
        except Exception as exc:  # the driver's own trouble: say it, go on
            import traceback
            self.record(folder, desc, f"driver error: {exc!r}\n{traceback.format_exc()}")
        finally:
            sim.stop()

    def record(self, folder: Path, desc: str, what: str) -> None:
        log(f"VIOLATION {folder.name}: {what[:2000]}")
        entry = {"job": str(folder), "desc": desc, "violation": what}
        self.violations.append(entry)
        with open(self.out / "violations.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")

    def log_len(self, sim: SimulatorThread) -> int:
        return sim.call(lambda s: s.state.log.requests)

    def one_run(self, sim, kind, args, env, kill_s, report, seen, *, rng,
                mid_changes=False, rows=None) -> RunRecord:
        time.sleep(0.3)  # the killed run's last requests reach the server's log first
        rec = RunRecord(kind, args, self.log_len(sim))
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        started = time.monotonic()
        if mid_changes and rows:
            self.change_messages(sim, rows, rng)
        if kill_s is None:
            rec.out, rec.err = proc.communicate(timeout=900)
            rec.code = proc.returncode
        else:
            try:
                rec.out, rec.err = proc.communicate(timeout=kill_s)
                rec.code = proc.returncode  # ended before the kill
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                rec.out, rec.err = proc.communicate()
                rec.killed_after_s = time.monotonic() - started
                self.cycles += 1
        time.sleep(0.3)
        rec.end_seq = self.log_len(sim)
        self.take_lines(rec, report, seen)
        self.scenarios[f"run:{kind}:{'killed' if rec.code is None else rec.code}"] += 1
        if rec.code is None or rec.code == 3:
            self.check_unfinished_report(report, rec)
        return rec

    def change_messages(self, sim, rows: list[Row], rng: random.Random) -> None:
        """Mid-run: a customer writes into some conversations whose rows hold the
        no-message guard (only the message date: the fields the job sets stay its own)."""
        guarded = [int(r.cid) for r in rows if r.expect_no_message_after]
        late = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

        def change(s) -> None:
            for cid in rng.sample(guarded, k=min(len(guarded), 10)):
                conv = s.state.conversations.get(cid)
                if conv is not None:
                    conv.last_message_date = late + timedelta(minutes=rng.randrange(600))

        if guarded:
            time.sleep(rng.uniform(0.2, 1.0))
            sim.call(change)
            self.scenarios["mid-run message"] += 1

    def take_lines(self, rec: RunRecord, report: Path, seen: dict[int, set]) -> None:
        """Lines no earlier snapshot had: this run reported them (a kept line is copied
        as it was; a new one has its own finished_at, duration and attempts)."""
        snap = snapshot_lines(report)
        for name in ("report", "partial", "ahead"):
            for line in snap[name]:
                row = int(line[0])
                if tuple(line) not in seen.get(row, ()):
                    rec.new_lines[row] = line
        for row, line in rec.new_lines.items():
            seen.setdefault(row, set()).add(tuple(line))

    def check_unfinished_report(self, report: Path, rec: RunRecord) -> None:
        p = subprocess.run([self.python, "-m", "worker", "report", str(report), "--json"],
                           capture_output=True, text=True, env=self.report_env())
        if not report.exists():
            return
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            raise Violation(f"report --json after a {rec.kind} run: not JSON "
                            f"(exit {p.returncode}): {p.stdout[:300]} {p.stderr[:300]}") from None
        rows_in = len(whole_lines(report))
        if p.returncode == 0 or doc.get("finished"):
            if rows_in < (doc.get("job_rows") or 0):
                raise Violation(f"report says finished (exit {p.returncode}) after a "
                                f"{rec.kind} run {'killed' if rec.code is None else rec.code}"
                                f" with {rows_in} of {doc.get('job_rows')} rows in R")

    def report_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
        env["XDG_CONFIG_HOME"] = str(self.out / "xdg")
        return env

    def twin_resumes(self, sim, args, env, runs, report, seen, rng, expected_s) -> None:
        """Two `--resume` at once on the same report: one must be refused (exit 2) having
        sent nothing; the other goes on (killed at random too)."""
        self.scenarios["twin resumes"] += 1
        time.sleep(0.3)
        rec = RunRecord("twin", args, self.log_len(sim))
        a = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, stdin=subprocess.DEVNULL)
        b = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, stdin=subprocess.DEVNULL)
        kill_s = rng.uniform(0.5, max(1.0, expected_s * 0.5))
        deadline = time.monotonic() + kill_s
        outs = {}
        while time.monotonic() < deadline and len(outs) < 2:
            for name, p in (("a", a), ("b", b)):
                if name not in outs and p.poll() is not None:
                    outs[name] = (p.returncode, *p.communicate())
            time.sleep(0.05)
        for name, p in (("a", a), ("b", b)):
            if name not in outs:
                os.kill(p.pid, signal.SIGKILL)
                o, e = p.communicate()
                outs[name] = (None, o, e)
                self.cycles += 1
        time.sleep(0.3)
        rec.end_seq = self.log_len(sim)
        codes = sorted((c for c, _, _ in outs.values()), key=lambda c: (c is None, c))
        refused = [v for v in outs.values() if v[0] == 2]
        if len(refused) != 1:
            raise Violation(f"two resumes at once: exit codes {[v[0] for v in outs.values()]}"
                            f", expected exactly one 2; stderr: "
                            f"{[v[2][-500:] for v in outs.values()]}")
        msg = refused[0][2]
        if "Traceback" in msg or ("use" not in msg.lower() and "lock" not in msg.lower()):
            raise Violation(f"refused twin resume: unclear message: {msg[-800:]}")
        other = next(v for v in outs.values() if v is not refused[0])
        rec.code, rec.out, rec.err = other
        if rec.code is None:
            rec.killed_after_s = kill_s
        self.take_lines(rec, report, seen)
        runs.append(rec)
        self.scenarios[f"twin other: {rec.code}"] += 1
        if rec.code is None:
            self.check_unfinished_report(report, rec)
        del codes

    def edited_job(self, sim, job: Path, args, env, runs, report) -> None:
        """A job file edited between the kill and the resume: refused (exit 2), clearly,
        nothing sent; then put back as it was."""
        self.scenarios["edited job"] += 1
        original = job.read_bytes()
        lines = original.split(b"\n")
        mid = len(lines) // 2
        lines[mid] = lines[mid].replace(b"closed", b"open", 1) if b"closed" in lines[mid] \
            else lines[mid] + b"x"
        job.write_bytes(b"\n".join(lines))
        time.sleep(0.3)
        before = self.log_len(sim)
        p = subprocess.run(args, env=env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=300)
        time.sleep(0.2)
        sent = self.log_len(sim) - before
        job.write_bytes(original)
        if p.returncode != 2 or sent:
            raise Violation(f"resume with an edited job: exit {p.returncode}, {sent} requests "
                            f"sent; stderr {p.stderr[-800:]}")
        if "Traceback" in p.stderr or "job" not in p.stderr.lower():
            raise Violation(f"resume with an edited job: unclear message {p.stderr[-800:]}")

    # --- the invariants ------------------------------------------------------------------

    def check_job(self, folder, sim, rows: list[Row], initial, runs: list[RunRecord],
                  report: Path, undo: Path | None, env) -> None:
        problems: list[str] = []
        n = len(rows)
        final = whole_lines(report)
        # 1. every row once, in order, one outcome.
        got = [int(line[0]) for line in final]
        if got != list(range(1, n + 1)):
            missing = sorted(set(range(1, n + 1)) - set(got))
            dup = [r for r, c in Counter(got).items() if c > 1]
            problems.append(f"final report rows not 1..{n}: {len(got)} lines, missing "
                            f"{missing[:10]}, repeated {dup[:10]}")
        by_row = {int(line[0]): line for line in final}
        outcomes = Counter(line[4] for line in final)
        for r in rows:
            line = by_row.get(r.row)
            if line is None:
                continue
            if not r.valid and line[4] != "invalid":
                problems.append(f"row {r.row}: invalid in the job, {line[4]} in the report")
            if r.valid and line[4] == "invalid":
                problems.append(f"row {r.row}: valid in the job, invalid in the report: {line}")
        # Leftover side files after a finished run.
        for suffix in (".partial", ".ahead"):
            if report.with_name(report.name + suffix).exists() and runs[-1].code in (0, 1):
                problems.append(f"{suffix} left beside a finished report")
        # 2./3. the log, run by run.
        records = sim.call(lambda s: list(s.state.log.records))
        rows_by_cid: dict[int, list[Row]] = defaultdict(list)
        for r in rows:
            if r.valid:
                rows_by_cid[int(r.cid)].append(r)
        final_before: dict[int, str] = {}  # row -> outcome final as reported by an earlier run
        for k, run in enumerate(runs):
            seg = [x for x in records if run.start_seq < x.seq <= run.end_seq]
            reqs: dict[int, list] = defaultdict(list)
            for x in seg:
                if x.conversation_id is not None:
                    reqs[x.conversation_id].append(x)
            retry_failed = "--retry-failed" in run.args
            for cid, its in reqs.items():
                mine = [r for r in rows_by_cid.get(cid, [])]
                reported = [r for r in mine if r.row in run.new_lines
                            and run.new_lines[r.row][4] != "invalid"]
                pos = 0
                for r in reported:
                    line = run.new_lines[r.row]
                    att = int(line[6] or 0)
                    chunk = its[pos: pos + att]
                    pos += att
                    if len(chunk) < att:
                        problems.append(f"run {k} ({run.kind}) row {r.row} conv {cid}: "
                                        f"attempts {att} but only {len(chunk)} requests left "
                                        f"in the log for it")
                        break
                    patches = [x for x in chunk if x.method == "PATCH"]
                    for x in patches:
                        # A 429 at the gate is answered before the body is read.
                        if x.status != 429 and x.body != r.body():
                            problems.append(f"run {k} row {r.row} conv {cid}: a PATCH "
                                            f"{x.body} in its share, expected {r.body()} "
                                            f"(attribution off: requests not the row's)")
                            break
                    outcome = line[4]
                    if outcome == "changed" and patches:
                        problems.append(f"run {k} row {r.row}: changed but PATCHed "
                                        f"{len(patches)}x")
                    if outcome == "ok" and patches and not any(
                            x.applied for x in patches) and "in effect" not in line[7]:
                        problems.append(f"run {k} row {r.row}: ok, PATCHed, none applied: "
                                        f"{line}")
                rest = its[pos:]
                if rest:
                    if run.code is not None:
                        problems.append(
                            f"run {k} ({run.kind}, exit {run.code}) conv {cid}: "
                            f"{len(rest)} requests beyond its rows' attempts "
                            f"(rows {[r.row for r in reported]}, attempts "
                            f"{[run.new_lines[r.row][6] for r in reported]}, "
                            f"log {[(x.method, x.body, x.status) for x in its]})")
                    else:
                        # In flight at the kill: only rows not final before this run.
                        allowed = [r for r in mine if r.row not in run.new_lines and (
                            r.row not in final_before or (
                                final_before[r.row] == "failed"))]
                        bodies = [r.body() for r in allowed]
                        for x in rest:
                            if x.method == "PATCH" and x.status != 429 and (
                                    x.body not in bodies):
                                problems.append(
                                    f"run {k} (killed) conv {cid}: PATCH {x.body} beyond "
                                    f"its reported rows, matching no row still open "
                                    "(rows of conv: "
                                    f"{[(r.row, final_before.get(r.row)) for r in mine]})")
                                break
            # 2. a row final before this run is not sent again by it.
            for row, line in run.new_lines.items():
                prev = final_before.get(row)
                if prev is None or line[4] == "invalid":
                    continue
                if prev == "failed" and retry_failed:
                    continue
                if prev in ("ok", "failed", "changed"):
                    problems.append(f"run {k} ({run.kind}) reported row {row} again "
                                    f"({prev} -> {line[4]}, attempts {line[6]}) though an "
                                    f"earlier run had it final")
            for row, line in run.new_lines.items():
                if line[4] != "skipped":
                    final_before[row] = line[4]
        # 4. the server's final state against the last ok row per field.
        state = sim.call(lambda s: {cid: conv_json(c) for cid, c in s.state.conversations.items()})
        last_ok: dict[tuple[int, str], Row] = {}
        doubtful: set[tuple[int, str]] = set()
        for r in rows:
            line = by_row.get(r.row)
            if line is None or not r.valid:
                continue
            key = (int(r.cid), r.field)
            if line[4] == "ok":
                last_ok[key] = r
                doubtful.discard(key)
            elif line[4] == "failed" and ("may or may not" in line[7] or "may have" in line[7]):
                doubtful.add(key)
        for (cid, fld), r in last_ok.items():
            if (cid, fld) in doubtful or cid not in state:
                continue
            conv = state[cid]
            held = (("closed" if conv["is_solved"] else "open") if fld == "status"
                    else (conv["assigned_user_id"] or "unassigned"))
            want = r.status or r.assignee
            if held != want:
                problems.append(f"conv {cid} {fld}: server holds {held}, the report's last "
                                f"ok row {r.row} says {want}")
        for cid, conv in state.items():
            for fld in ("status", "assigned_user_id"):
                if (cid, fld) in last_ok or (cid, fld) in doubtful:
                    continue
                key = "is_solved" if fld == "status" else "assigned_user_id"
                if conv[key] != initial[cid][key]:
                    problems.append(f"conv {cid} {fld}: changed on the server "
                                    f"({initial[cid][key]} -> {conv[key]}) with no ok row")
        # 5. report and verify.
        last = runs[-1]
        want_code = 3 if outcomes["skipped"] else (
            1 if outcomes["failed"] or outcomes["invalid"] else 0)
        if last.code != want_code:
            problems.append(f"last run exit {last.code}, report's outcomes {dict(outcomes)} "
                            f"say {want_code}; stderr {last.err[-400:]}")
        p = subprocess.run([self.python, "-m", "worker", "report", str(report), "--json"],
                           capture_output=True, text=True, env=self.report_env())
        doc = json.loads(p.stdout)
        done = len(final) == n and not outcomes["skipped"]
        if (p.returncode == 0) != done or doc.get("finished") != done:
            problems.append(f"report: exit {p.returncode} finished {doc.get('finished')}, "
                            f"but the report {'is' if done else 'is not'} whole")
        if doc.get("outcomes") and {k: v for k, v in doc["outcomes"].items() if v} != {
                k: v for k, v in outcomes.items() if v}:
            problems.append(f"report outcomes {doc['outcomes']} != counted {dict(outcomes)}")
        sim.set_faults(Faults())
        sim.call(lambda s: s.set_rate_limit(None))
        v = subprocess.run([self.python, "-m", "worker", "verify", str(report), "--json"],
                           capture_output=True, text=True, env=env)
        try:
            vdoc = json.loads(v.stdout)
        except ValueError:
            problems.append(f"verify: not JSON, exit {v.returncode}: {v.stderr[-400:]}")
            vdoc = {}
        diffs = vdoc.get("differences") or []
        bad = [d for d in diffs if (int(d["conversation_id"]),
                                    "status" if d["field"] == "status" else "assigned_user_id")
               not in doubtful]
        if bad or (v.returncode != 0 and not diffs):
            problems.append(f"verify exit {v.returncode}: {bad[:5]} {v.stderr[-300:]}")
        # 6. the undo job: each of its rows puts back the value before the run.
        if undo is not None and last.code in (0, 1):
            self.check_undo(undo, initial, state, problems)
        if problems:
            raise Violation(f"{len(problems)} problem(s):\n  " + "\n  ".join(problems[:25]))

    def check_undo(self, undo: Path, initial, state, problems: list[str]) -> None:
        if not undo.exists():
            problems.append("no undo file after a finished run")
            return
        with open(undo, encoding="utf-8-sig", newline="") as f:
            urows = list(csv.DictReader(f))
        undone: set[tuple[int, str]] = set()
        for u in urows:
            cid = int(u["conversation_id"])
            if u.get("status"):
                fld, val = "status", u["status"]
                before = "closed" if initial[cid]["is_solved"] else "open"
                now = "closed" if state[cid]["is_solved"] else "open"
            else:
                fld, val = "assigned_user_id", u["assigned_user_id"]
                before = initial[cid]["assigned_user_id"] or "unassigned"
                now = state[cid]["assigned_user_id"] or "unassigned"
            undone.add((cid, fld))
            if val != before:
                problems.append(f"undo row for conv {cid} {fld} sets {val}, it was {before}")
            exp = u.get("expect_status") if fld == "status" else u.get("expect_assignee")
            if exp and exp != now:
                problems.append(f"undo row for conv {cid} {fld} expects {exp}, server "
                                f"holds {now}")
        nr = undo.with_name(undo.name + ".not-restorable.csv")
        not_restorable = set()
        if nr.exists():
            with open(nr, encoding="utf-8-sig", newline="") as f:
                for u in csv.DictReader(f):
                    not_restorable.add(int(u["conversation_id"]))
        for cid, conv in state.items():
            for fld, key in (("status", "is_solved"), ("assigned_user_id", "assigned_user_id")):
                if conv[key] != initial[cid][key] and (cid, fld) not in undone and not (
                        fld == "status" and cid in not_restorable):
                    problems.append(f"conv {cid} {fld} changed by the run "
                                    f"({initial[cid][key]} -> {conv[key]}), not in the undo job")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("/tmp/soak"))
    ap.add_argument("--first-job", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=0, help="stop after this many (0: time)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "xdg").mkdir(exist_ok=True)
    soak = Soak(a.out, a.seed, sys.executable)
    end = time.monotonic() + a.minutes * 60
    i = a.first_job
    while time.monotonic() < end and (not a.jobs or i < a.first_job + a.jobs):
        soak.run_job(i)
        i += 1
        log(f"so far: {soak.jobs} jobs clean, {soak.cycles} kills, "
            f"{len(soak.violations)} violations; {dict(soak.scenarios)}")
    print(json.dumps({"jobs_clean": soak.jobs, "jobs": i - a.first_job,
                      "kill_cycles": soak.cycles, "violations": len(soak.violations),
                      "scenarios": soak.scenarios}, indent=1))
    return 1 if soak.violations else 0


if __name__ == "__main__":
    sys.exit(main())
