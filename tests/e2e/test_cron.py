"""The README's crontab line, run as cron runs it: `env -i`, PATH=/usr/bin:/bin, `sh -c`.

The test reads the README's nightly block (the `runbook install` line and the crontab
line) and runs both as written, with only /srv/partoo moved into a temporary folder. The
settings other than the key live in the cron user's config file, as the README says; the
key in a file only its owner can read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import SECRET, read_report

ROOT = Path(__file__).resolve().parents[2]
CRON_PATH = "/usr/bin:/bin"  # what cron gives a crontab line (Debian's, Vixie cron's)
pytestmark = pytest.mark.skipif(shutil.which("bash", path=CRON_PATH) is None,
                                reason="needs bash in /usr/bin or /bin")


def nightly_block() -> tuple[str, str]:
    """(the install command, the crontab line's command) from the README's nightly block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    (block,) = [b for b in blocks if "jobs/close-stale.sh" in b and "crontab" in b]
    lines = [line for line in block.splitlines() if line and not line.startswith("#")]
    (install,) = [line for line in lines if line.startswith("partoo-bulk runbook install")]
    (entry,) = [line for line in lines if re.match(r"(\S+\s+){5}cd ", line)]
    return install, re.sub(r"^(\S+\s+){5}", "", entry)


def test_the_documented_crontab_line_takes_the_key_from_a_file():
    install, command = nightly_block()
    assert "PARTOO_API_KEY=" not in command and "PARTOO_API_KEY_FILE=" in command
    assert "/srv/partoo" in install and "/srv/partoo" in command


def test_the_documented_crontab_line_works_under_crons_path(tmp_path, make_sim):
    sim = make_sim(n_conversations=40)
    unsolved = sim.call(lambda s: sorted(c.id for c in s.state.conversations.values()
                                         if not c.is_solved))
    install, command = nightly_block()
    srv = tmp_path / "srv" / "partoo"
    srv.mkdir(parents=True)
    key = srv / "key"
    key.write_text(SECRET + "\n")
    key.chmod(0o600)
    home = tmp_path / "home"
    config = home / ".config" / "partoo-bulk" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'base_url = "{sim.base_url}"\nrate_per_minute = 60000\n'
                      "request_timeout_s = 1\nbackoff_base_s = 0.02\n")
    config.chmod(0o600)
    cron_env = {"PATH": CRON_PATH, "HOME": str(home), "LOGNAME": "cron", "SHELL": "/bin/sh"}

    # Once, by hand, where this install's partoo-bulk is on PATH (a venv's bin, pipx's).
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "partoo-bulk").exists(), "partoo-bulk is not installed beside python"
    done = subprocess.run(["sh", "-c", install.replace("/srv/partoo", str(srv))],
                          env={**cron_env, "PATH": f"{bin_dir}:{CRON_PATH}"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (srv / "jobs" / "close-stale.sh").stat().st_mode & 0o111

    # Then cron: nothing of this process's environment, cron's PATH, sh -c the line.
    done = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in cron_env.items()),
                           "/bin/sh", "-c", command.replace("/srv/partoo", str(srv))],
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == ""  # a good night: cron mails nothing
    (job,) = (srv / "close-stale").glob("close-stale-*Z.csv")
    report = read_report(job.with_name(job.stem + ".report.csv"))
    assert [int(r["conversation_id"]) for r in report] == unsolved
    assert {r["outcome"] for r in report} == {"ok"}

