"""A hostile server, through the real CLI: each row's outcome true to what the server did.

Three kinds of server, each for what it does best:
- aioresponses, in place of the network, for answers of any shape (a 200 that is an HTML
  page, empty bodies, odd statuses) with no server at all;
- small aiohttp servers on loopback (`ServerThread`) for what needs real sockets:
  redirects to another address, replies that trickle in slower than the timeout;
- the simulator for 429 storms, Retry-After in every shape, and a server that dies
  mid-run and comes back.
Invariants everywhere: `ok` only after a 200 with Partoo's success body; the report has one
line per row, in order; the exit code is the documented one; nothing is followed to
another host; no traceback.
"""

from __future__ import annotations

import asyncio
import email.utils
import gc
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from helpers import make_engine, read_report, sim_env, write_job
from stand_ins import (
    API,
    CONVERSATION,
    HTML,
    SUCCESS,
    Handler,
    ServerThread,
    api_env,
    closed_rows,
    mocked_api,
    no_traceback,
    sent_requests,
)
from worker.core.stops import StopReason
from worker.simulator import Faults

# --- answers of every shape, no server needed ----------------------------------------------

CASES = {
    # name: (answers in order, the last repeats), outcome, http_status, PATCHes, fragments
    "200 success": ([dict(payload=SUCCESS)], "ok", "200", 1, []),
    "500, then success": ([dict(status=500, body=""), dict(payload=SUCCESS)], "ok", "200", 2,
                          []),
    "200 HTML page": ([dict(body=HTML, content_type="text/html")], "failed", "200", 1,
                      ["an HTML page", "check PARTOO_BASE_URL"]),
    "200 empty body": ([dict(body="")], "failed", "200", 1, ["empty body", "PARTOO_BASE_URL"]),
    "200 text": ([dict(body="success", content_type="text/plain")], "failed", "200", 1,
                 ["not JSON: success", "PARTOO_BASE_URL"]),
    "200 other JSON": ([dict(payload={"status": "ok"})], "failed", "200", 1,
                       ["not Partoo's success answer"]),
    "200 JSON list": ([dict(payload=[SUCCESS])], "failed", "200", 1, ["PARTOO_BASE_URL"]),
    "200 JSON string": ([dict(payload="success")], "failed", "200", 1, ["PARTOO_BASE_URL"]),
    "204": ([dict(status=204, body="")], "failed", "204", 1, ["204 instead of 200"]),
    "502 HTML, always": ([dict(status=502, body=HTML, content_type="text/html")], "failed",
                         "502", 3, ["an HTML page", "gave up after 3 attempts"]),
    "503 empty, always": ([dict(status=503, body="")], "failed", "503", 3,
                          ["503", "empty body", "gave up after 3 attempts"]),
    "408, always": ([dict(status=408, body="")], "failed", "408", 3, ["408"]),
    "400 HTML": ([dict(status=400, body=HTML, content_type="text/html")], "failed", "400", 1,
                 ["400 an HTML page"]),
    "404 Partoo": ([dict(status=404, payload={"error": {"json": "Resource not found"}})],
                   "failed", "404", 1, ["404 Resource not found"]),
    "418": ([dict(status=418, body="I'm a teapot")], "failed", "418", 1, ["teapot"]),
}


# Answers that do not say whether the change was made: the row ends with one GET reading
# the conversation back (the mock shows it open: not closed, so not applied).
LEAVES_IT_OPEN = {"200 HTML page", "200 empty body", "200 text", "200 other JSON",
                  "200 JSON list", "200 JSON string", "502 HTML, always", "503 empty, always",
                  "408, always"}


@pytest.mark.aioresponses
@pytest.mark.parametrize("name", list(CASES))
def test_each_answer_gives_the_outcome_it_means(tmp_path, cli, name):
    answers, outcome, status, patches, fragments = CASES[name]
    read_back = name in LEAVES_IT_OPEN
    job = write_job(tmp_path / "job.csv", closed_rows(1, first=7))
    with mocked_api() as m:
        for i, answer in enumerate(answers):
            m.patch(CONVERSATION, repeat=i == len(answers) - 1, **answer)
        result = cli("run", job, "--yes", "--quiet", env=api_env())
        sent = sent_requests(m)
    no_traceback(result)
    (row,) = read_report(tmp_path / "job.report.csv")
    assert (row["outcome"], row["http_status"], row["attempts"]) == \
        (outcome, status, str(patches + read_back)), row
    for fragment in fragments:
        assert fragment in row["error"], row["error"]
    assert ("not applied: reading it back shows open" in row["error"]) == read_back
    assert len(sent) == patches
    assert all(url == f"{API}/conversations/7" for _method, url, _kw in sent)
    assert result.code == (0 if outcome == "ok" else 1)


@pytest.mark.aioresponses
def test_a_base_url_that_answers_html_to_everything_stops_the_run_early(tmp_path, cli):
    """A captive portal or a wrong base URL: not thousands of failed rows, one abort."""
    job = write_job(tmp_path / "job.csv", closed_rows(300))
    with mocked_api() as m:
        m.patch(CONVERSATION, body=HTML, content_type="text/html", repeat=True)
        result = cli("run", job, "--yes", "--quiet", env=api_env())
        sent = sent_requests(m)
    no_traceback(result)
    assert result.code == 3 and "circuit breaker" in result.err
    assert "PARTOO_BASE_URL" in result.err
    report = read_report(tmp_path / "job.report.csv")
    assert [r["row"] for r in report] == [str(i) for i in range(1, 301)]
    failed = [r for r in report if r["outcome"] == "failed"]
    assert len(failed) <= 40 and len(sent) <= 40
    assert {r["outcome"] for r in report} == {"failed", "skipped"}


# --- real sockets: redirects and trickling replies ----------------------------------------

@pytest.fixture
def serve():
    started: list[ServerThread] = []

    def start(handler: Handler, host: str = "127.0.0.1", *, gets: bool = False) -> ServerThread:
        server = ServerThread(handler, gets=gets)
        server.start(host)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def loopback_env(server: ServerThread, **extra: str) -> dict[str, str]:
    return api_env(PARTOO_BASE_URL=server.root_url + "/v2", **extra)


async def succeed(request: web.Request) -> web.StreamResponse:
    return web.json_response(SUCCESS)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("where", ["another host", "the same host"])
def test_a_redirect_is_never_followed_and_the_key_stays_home(tmp_path, cli, serve, status,
                                                            where):
    elsewhere = serve(succeed, host="127.0.0.2")  # answers success: following would "work"

    async def redirect(request: web.Request) -> web.StreamResponse:
        target = (elsewhere.root_url if where == "another host" else "") + "/v2/moved"
        return web.Response(status=status, headers={"Location": target + request.path_qs})

    api = serve(redirect)
    job = write_job(tmp_path / "job.csv", closed_rows(3))
    result = cli("run", job, "--yes", "--quiet", env=loopback_env(api))
    no_traceback(result)
    assert elsewhere.requests == []
    assert sorted(api.patches()) == [f"/v2/conversations/{i}" for i in (1, 2, 3)]
    report = read_report(tmp_path / "job.report.csv")
    assert [(r["outcome"], r["http_status"], r["attempts"]) for r in report] == \
        [("failed", str(status), "1")] * 3
    host = urlsplit(elsewhere.root_url if where == "another host" else "").netloc
    for row in report:
        assert "not followed" in row["error"] and "check PARTOO_BASE_URL" in row["error"]
        assert host in row["error"]
    assert result.code == 1


async def trickle(request: web.Request) -> web.StreamResponse:
    """A 200 whose body arrives one byte every 0.1 s: each read is quick, the whole is not."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    try:
        for byte in b'{"status": "success"}':
            await asyncio.sleep(0.1)
            await response.write(bytes([byte]))
    except ConnectionError:
        pass  # the client gave up, as it should
    return response


async def silent(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(3)
    return web.json_response(SUCCESS)


@pytest.mark.parametrize("handler", [trickle, silent], ids=["trickle", "no headers"])
def test_a_reply_slower_than_the_timeout_is_a_failure_that_may_have_applied(tmp_path, cli,
                                                                           serve, handler):
    api = serve(handler)
    job = write_job(tmp_path / "job.csv", closed_rows(2))
    started = time.monotonic()
    result = cli("run", job, "--yes", "--quiet", env=loopback_env(
        api, PARTOO_REQUEST_TIMEOUT_S="0.5", PARTOO_MAX_ATTEMPTS="2"))
    elapsed = time.monotonic() - started
    no_traceback(result)
    report = read_report(tmp_path / "job.report.csv")
    # Two PATCHes, then the conversation read back: it was not changed.
    assert [(r["outcome"], r["http_status"], r["attempts"]) for r in report] == \
        [("failed", "", "3")] * 2
    for row in report:
        assert "no answer within 0.5 s" in row["error"]
        assert "not applied: reading it back shows open" in row["error"]
    assert result.code == 1 and elapsed < 5
    assert len(api.patches()) == 4


async def endless_error_page(request: web.Request) -> web.StreamResponse:
    """A proxy's 502 whose HTML page never ends (chunked, no length)."""
    response = web.StreamResponse(status=502, headers={"Content-Type": "text/html"})
    await response.prepare(request)
    try:
        await response.write(b"<html><body>Bad gateway " + b"x" * 65_000)
        while True:
            await response.write(b"x" * 65_536)
            await asyncio.sleep(0.01)
    except ConnectionError:
        pass  # the client stopped reading, as it should
    return response


async def huge_error_page(request: web.Request) -> web.StreamResponse:
    """A 502 announcing (and sending) 5 MB of HTML."""
    return web.Response(status=502, body=b"<html>" + b"x" * 5_000_000,
                        content_type="text/html")


@pytest.mark.parametrize("handler", [endless_error_page, huge_error_page],
                         ids=["endless", "5 MB"])
def test_an_error_page_of_any_size_is_cut_not_swallowed(tmp_path, cli, serve, handler):
    api = serve(handler)
    job = write_job(tmp_path / "job.csv", closed_rows(2))
    started = time.monotonic()
    result = cli("run", job, "--yes", "--quiet", env=loopback_env(
        api, PARTOO_MAX_ATTEMPTS="1", PARTOO_REQUEST_TIMEOUT_S="5"))
    no_traceback(result)
    report = read_report(tmp_path / "job.report.csv")
    assert [(r["outcome"], r["http_status"]) for r in report] == [("failed", "502")] * 2
    for row in report:
        assert "HTML page" in row["error"] and len(row["error"]) < 300
    assert result.code == 1 and time.monotonic() - started < 5


async def hang_up(request: web.Request) -> web.StreamResponse:
    """Reads the request, then closes the connection without a word."""
    assert request.transport is not None
    request.transport.close()
    return web.Response()


def test_every_request_sent_is_one_the_report_counts(tmp_path, cli, serve):
    """A server that hangs up on everything: each PATCH and each read-back GET is an
    attempt in the report, and nothing is sent behind the rate limiter's back (aiohttp
    would otherwise send a GET again on a kept-alive connection that was closed)."""
    api = serve(hang_up, gets=True)
    job = write_job(tmp_path / "job.csv", closed_rows(4))
    result = cli("run", job, "--yes", "--quiet", "--concurrency", "1",
                 env=loopback_env(api, PARTOO_MAX_ATTEMPTS="2"))
    no_traceback(result)
    report = read_report(tmp_path / "job.report.csv")
    assert [(r["outcome"], r["attempts"]) for r in report] == [("failed", "4")] * 4
    for row in report:
        assert "may or may not have been applied" in row["error"]
        assert "reading it back failed too" in row["error"]
    sent = [(method, path) for method, path, _headers in api.requests]
    assert len(sent) == sum(int(r["attempts"]) for r in report) == 16
    assert sent.count(("GET", "/v2/conversations/1")) == 2


# --- the simulator: 429 storms and Retry-After of every kind ------------------------------

STORM = {"PARTOO_MAX_RETRY_AFTER_S": "0.05", "PARTOO_RATE_LIMIT_BUDGET_S": "0.3"}
IN_3_HOURS = email.utils.formatdate(time.time() + 3 * 3600, usegmt=True)


@pytest.mark.parametrize(("header", "said"), [
    ("", None),  # no Retry-After at all
    ("-5", None),
    ("soon", None),
    ("36000", "the server asked to wait 36000 s, capped at max_retry_after_s=0.05"),
    (IN_3_HOURS, "capped at max_retry_after_s=0.05"),
], ids=["absent", "negative", "garbage", "10 hours", "date in 3 hours"])
def test_a_429_storm_is_bounded_whatever_retry_after_says(tmp_path, make_sim, cli, header,
                                                          said):
    sim = make_sim(faults=Faults(force_status=429, retry_after_header=header))
    job = write_job(tmp_path / "job.csv", closed_rows(3))
    started = time.monotonic()
    result = cli("run", job, "--yes", "--quiet", env=sim_env(sim, **STORM))
    no_traceback(result)
    assert time.monotonic() - started < 10
    report = read_report(tmp_path / "job.report.csv")
    for row in report:
        assert (row["outcome"], row["http_status"]) == ("failed", "429")
        assert "gave up (rate_limit_budget_s=0.3)" in row["error"]
        assert 1 < int(row["attempts"]) <= 10
        if said:
            assert said in row["error"]
    assert sim.state.log.stats()["applied"] == 0
    assert result.code == 1


@pytest.mark.parametrize("header", ["0", "Wed, 21 Oct 2015 07:28:00 GMT"],
                         ids=["zero", "date in the past"])
def test_a_429_storm_asking_for_no_wait_is_bounded_too(tmp_path, make_sim, cli, header):
    sim = make_sim(faults=Faults(force_status=429, retry_after_header=header))
    job = write_job(tmp_path / "job.csv", closed_rows(2))
    calm = threading.Timer(1.5, lambda: sim.set_faults(Faults()))  # ends an endless storm
    calm.start()
    try:
        result = cli("run", job, "--yes", "--quiet", env=sim_env(sim, **STORM))
    finally:
        calm.cancel()
    report = read_report(tmp_path / "job.report.csv")
    for row in report:
        assert row["outcome"] == "failed" and "rate_limit_budget_s" in row["error"], row
        assert int(row["attempts"]) <= 50
    assert result.code == 1


def test_a_long_429_storm_then_calm_uses_no_attempts_and_ends_ok(tmp_path, make_sim, cli):
    sim = make_sim()
    for cid in (1, 2, 3, 4):
        sim.script(cid, ["429"] * 12 + ["ok"])
    job = write_job(tmp_path / "job.csv", closed_rows(4))
    result = cli("run", job, "--yes", "--quiet", env=sim_env(
        sim, PARTOO_MAX_ATTEMPTS="2", PARTOO_MAX_RETRY_AFTER_S="0.02"))
    no_traceback(result)
    assert result.code == 0, result.err
    report = read_report(tmp_path / "job.report.csv")
    assert [(r["outcome"], r["attempts"]) for r in report] == [("ok", "13")] * 4
    assert "48 x 429" in result.out
    for cid in (1, 2, 3, 4):
        statuses = [r.status for r in sim.state.log.for_conversation(cid)]
        assert statuses == [429] * 12 + [200]


def test_proxy_html_errors_are_retried_then_reported(tmp_path, make_sim, cli):
    sim = make_sim()
    sim.script(1, ["html", "html", "ok"])
    sim.script(2, ["html", "html", "html"])
    sim.script(3, ["503", "503", "503"])  # a load balancer's 503 comes with no body
    before = [sim.state.conversations[i].is_solved for i in (2, 3)]
    job = write_job(tmp_path / "job.csv", closed_rows(3))
    result = cli("run", job, "--yes", "--quiet", env=sim_env(sim, PARTOO_MAX_ATTEMPTS="3"))
    no_traceback(result)
    report = read_report(tmp_path / "job.report.csv")
    # 2 and 3: three PATCHes, then a read-back (a 5xx may come after the change).
    assert before == [False, False]
    assert [(r["outcome"], r["http_status"], r["attempts"]) for r in report] == [
        ("ok", "200", "3"), ("failed", "502", "4"), ("failed", "503", "4")]
    assert "an HTML page" in report[1]["error"] and "empty body" in report[2]["error"]
    for row in report[1:]:
        assert "gave up after 3 attempts; not applied: reading it back shows open" \
            in row["error"]
    assert result.code == 1
    assert [sim.state.conversations[i].is_solved for i in (2, 3)] == before
    assert sim.state.log.stats()["applied"] == 1


# --- the server dies mid-run and comes back ------------------------------------------------

def wait_for_report_lines(report: Path, lines: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if report.exists() and report.read_text(encoding="utf-8").count("\n") > lines:
            return
        time.sleep(0.01)
    raise AssertionError(f"the report never reached {lines} lines")


def check_true_to_the_server(sim, rows, report) -> None:
    """Every `ok` row's conversation was last written by a 200 carrying that row's body."""
    assert [r["row"] for r in report] == [str(i) for i in range(1, len(rows) + 1)]
    for (cid, _status, _assignee), line in zip(rows, report, strict=True):
        records = sim.state.log.for_conversation(int(cid))
        if line["outcome"] == "ok":
            assert records and records[-1].status == 200 and records[-1].applied
            assert sim.state.conversations[int(cid)].is_solved
        assert int(line["attempts"]) >= len(records)


def test_the_server_dying_mid_run_and_coming_back(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=400)
    port = urlsplit(sim.base_url).port
    rows = closed_rows(400)
    job = write_job(tmp_path / "job.csv", rows)
    report_path = tmp_path / "job.report.csv"
    outage: list[float] = []

    def crash_and_recover() -> None:
        wait_for_report_lines(report_path, 80)
        sim.stop()
        outage.append(time.monotonic())
        time.sleep(0.6)
        sim.start(port=port)
        outage.append(time.monotonic())

    chaos = threading.Thread(target=crash_and_recover, daemon=True)
    chaos.start()
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="12000", PARTOO_MAX_ATTEMPTS="10",
                  PARTOO_BACKOFF_BASE_S="0.1", PARTOO_BACKOFF_MAX_S="0.5")
    result = cli("run", job, "--yes", "--quiet", env=env)
    chaos.join(10)
    no_traceback(result)
    assert len(outage) == 2, "the server was not restarted during the run"
    report = read_report(report_path)
    check_true_to_the_server(sim, rows, report)
    # The outage was seen (requests that never reached the server), and ridden out.
    assert sum(int(r["attempts"]) for r in report) > patch_count(sim)
    outcomes = {r["outcome"] for r in report}
    assert outcomes <= {"ok", "failed"} and result.code == (0 if outcomes == {"ok"} else 1)
    assert [r["outcome"] for r in report].count("ok") >= 390

    # Whatever failed during the outage is finished by a resume, without resending oks.
    sent_before = patch_count(sim)
    again = cli("run", job, "--yes", "--quiet", "--resume", "--retry-failed", env=env)
    assert again.code == 0, again.err
    assert patch_count(sim) - sent_before == len(report) - outcomes_count(report, "ok")
    assert all(sim.state.conversations[i].is_solved for i in range(1, 401))


def patch_count(sim) -> int:
    return sum(1 for r in sim.state.log.records if r.method == "PATCH")


def outcomes_count(report, outcome: str) -> int:
    return sum(1 for r in report if r["outcome"] == outcome)


def test_a_server_that_dies_for_good_aborts_with_a_resumable_report(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=400)
    port = urlsplit(sim.base_url).port
    rows = closed_rows(400)
    job = write_job(tmp_path / "job.csv", rows)
    report_path = tmp_path / "job.report.csv"

    def crash() -> None:
        wait_for_report_lines(report_path, 50)
        sim.stop()

    chaos = threading.Thread(target=crash, daemon=True)
    chaos.start()
    env = sim_env(sim, PARTOO_RATE_PER_MINUTE="12000", PARTOO_MAX_ATTEMPTS="2")
    result = cli("run", job, "--yes", "--quiet", env=env)
    chaos.join(10)
    no_traceback(result)
    assert result.code == 3 and "circuit breaker" in result.err
    assert "--resume --retry-failed" in result.err
    report = read_report(report_path)
    check_true_to_the_server(sim, rows, report)
    assert "skipped" in {r["outcome"] for r in report}

    sim.start(port=port)
    again = cli("run", job, "--yes", "--quiet", "--resume", "--retry-failed", env=env)
    assert again.code == 0, again.err
    assert all(sim.state.conversations[i].is_solved for i in range(1, 401))
    check_true_to_the_server(sim, rows, read_report(report_path))


# --- nothing there at all: connection refused, DNS failure ---------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_dns(monkeypatch):
    """Names under .invalid do not resolve, without asking any real resolver."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str | bytes) and str(host).rstrip(".").endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


UNREACHABLE = {
    "connection refused": (lambda: f"http://127.0.0.1:{free_port()}/v2", "connection refused"),
    "DNS failure": (lambda: "https://api.partoo.invalid/v2", "cannot resolve api.partoo.invalid"),
}


@pytest.mark.parametrize("case", list(UNREACHABLE))
def test_an_unreachable_api_at_start_fails_fast_with_one_message(tmp_path, cli, no_dns, case):
    make_url, fragment = UNREACHABLE[case]
    job = write_job(tmp_path / "job.csv", closed_rows(1000))
    result = cli("run", job, "--yes", "--quiet", env=api_env(PARTOO_BASE_URL=make_url()))
    no_traceback(result)
    assert result.code == 2, result.err
    assert fragment in result.err and "PARTOO_BASE_URL" in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    report = tmp_path / "job.report.csv"
    assert not report.exists() or read_report(report) == []


# --- a bug of ours must not lose rows either --------------------------------------------------

def test_an_unexpected_exception_while_sending_still_reports_every_row(tmp_path, make_sim,
                                                                      cli, monkeypatch):
    from worker.partoo.client import PartooClient

    real_update = PartooClient.update

    async def update(self, op):
        if op.conversation_id == 3:
            raise RuntimeError("a bug in a library")
        return await real_update(self, op)

    monkeypatch.setattr(PartooClient, "update", update)
    sim = make_sim()
    job = write_job(tmp_path / "job.csv", closed_rows(6))
    try:
        result = cli("run", job, "--yes", "--quiet", env=sim_env(sim, PARTOO_CONCURRENCY="1"))
    finally:
        gc.collect()  # "Task exception was never retrieved" is logged now, not in a later test
    no_traceback(result, bug_expected=True)
    report = read_report(tmp_path / "job.report.csv")
    assert [r["row"] for r in report] == ["1", "2", "3", "4", "5", "6"]
    assert report[2]["outcome"] != "ok" and "RuntimeError" in report[2]["error"]
    assert result.code == 3 and "RuntimeError" in result.err


async def test_a_stop_right_after_a_row_is_spawned_still_reports_every_row():
    from worker.core.operations import Action, Operation
    from worker.sending.ratelimit import RateLimiter
    from worker.sending.retrypolicy import RetryPolicy

    loop = asyncio.get_running_loop()

    async def send(op: Operation) -> int:
        await asyncio.sleep(0.01)
        return 200

    engine = make_engine(send, RateLimiter(60_000.0), RetryPolicy(), concurrency=4)

    def items():
        for row in range(1, 9):
            if row == 3:  # a SIGINT handled right as row 3's task is created
                loop.call_soon(engine.control.halt, StopReason.INTERRUPTED,
                               "run interrupted (SIGINT)")
            yield Operation(row=row, conversation_id=row, action=Action.CLOSE)

    results = []
    await asyncio.wait_for(engine.run(items(), results.append), 5)
    assert [r.row for r in results] == list(range(1, 9))
