"""On a real terminal: the bar after a real Ctrl-C shows the skipped rows, and a resume's
confirmation estimates the rows left, not the whole job."""

from __future__ import annotations

import os
import pty
import re
import signal
import sys
import time

from helpers import ask_on_a_terminal, read_report, sim_env, write_job


def test_after_ctrl_c_on_a_terminal_the_bar_shows_the_skipped_rows(tmp_path, make_sim):
    sim = make_sim(n_conversations=100)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 81)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTOO_")}
    env.update(sim_env(sim, PARTOO_RATE_PER_MINUTE="600"))
    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is its terminal (the rich bar), stdout a file
        os.execvpe(sys.executable, [sys.executable, "-m", "worker", "run", str(job), "--yes"],
                   env)
    seen = b""
    report = tmp_path / "job.report.csv"
    deadline = time.monotonic() + 30
    interrupted = False
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if (not interrupted and report.exists()
                and report.read_text().count("\n") > 10) or time.monotonic() > deadline:
            if not interrupted:
                os.kill(pid, signal.SIGINT)
                interrupted = True
    _, status = os.waitpid(pid, 0)
    os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode("utf-8", "replace"))
    assert os.waitstatus_to_exitcode(status) == 130, text
    rows = read_report(report)
    done = sum(r["outcome"] == "ok" for r in rows)
    skipped = sum(r["outcome"] == "skipped" for r in rows)
    assert skipped and done + skipped == 80
    frames = re.findall(r"(\d+)/80 ([^\r\n]*)", text)
    assert frames, text
    last_done, last_counts = frames[-1]  # the last frame, drawn on exit
    assert int(last_done) == done and f"{skipped} skipped" in last_counts
    assert "80/80" not in text


def test_a_resume_asks_with_the_estimate_of_the_rows_left(tmp_path, make_sim, cli):
    sim = make_sim(n_conversations=700)
    job = write_job(tmp_path / "job.csv", [(str(i), "closed", "") for i in range(1, 601)])
    first = cli("run", job, "--yes", "--quiet", "--finish-by", "+2s",
                env=sim_env(sim, PARTOO_RATE_PER_MINUTE="300"))
    assert first.code == 3
    rows = read_report(tmp_path / "job.report.csv")
    done = sum(r["outcome"] == "ok" for r in rows)
    assert 0 < done < 600
    code, terminal = ask_on_a_terminal(
        ["run", str(job), "--resume", "--quiet", "--finish-by", "+1m"],
        sim_env(sim, PARTOO_RATE_PER_MINUTE="300"), ["n"], tmp_path / "out.txt")
    assert code == 2 and "cancelled: nothing was sent" in terminal
    left = 600 - done
    assert f"estimated duration for the {left} rows left" in terminal
    assert f"({left} requests at 300/min" in terminal
    assert f"Send up to {left} requests to" in terminal
    # The window: a minute at 300/min reaches about 300 of them.
    assert "--finish-by" in terminal and "does NOT fit" in terminal
