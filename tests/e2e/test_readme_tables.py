"""The README's tables say what the code does: its exit codes are `ExitCode`, its settings
defaults and every `--help` default are the settings model's (as test_packaging.py's
`test_the_example_settings_load_and_state_every_default` checks for config.example.toml)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worker.config import Settings, default
from worker.core.exitcodes import ExitCode

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def table_after(heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table under `heading`, header included."""
    section = README.split(f"\n{heading}\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            if not set(line) <= set("|-"):
                rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows


def test_the_readme_exit_code_table_is_the_exit_code_enum():
    header, *rows = table_after("## Exit codes")
    assert header[0] == "code"
    assert [int(r[0]) for r in rows] == [int(c) for c in ExitCode]
    verify = header.index("`verify`")
    by_code = {int(r[0]): r for r in rows}
    # verify stops with 3 (bad key, breaker), as `verify --help` says.
    assert by_code[ExitCode.ABORTED][verify]


def test_the_readme_settings_table_states_every_default_of_the_settings_model():
    header, *rows = table_after("settings (`plan` only the rate).\n")
    assert header == ["flag", "environment", "config key", "default"]
    stated: dict[str, str] = {}
    for row in rows:
        keys = re.findall(r"`(\w+)`", row[2])
        if row[3] == "required":
            continue  # the key: no default
        if row[3].startswith("none "):  # proxy, ca_bundle: unset by default
            assert all(default(k) is None for k in keys), row
            stated.update(dict.fromkeys(keys, "none"))
            continue
        values = [v.strip().split(" ")[0].strip("`") for v in row[3].split(" / ")]
        assert len(keys) == len(values), row
        stated.update(zip(keys, values, strict=True))
    assert set(stated) == set(Settings.model_fields) - {"api_key"}
    for name, text in stated.items():
        if text == "none":
            continue
        want = default(name)
        assert (float(text) == want if isinstance(want, int | float) else text == want), name


SETTINGS_FLAGS = ("--rate-per-minute", "--concurrency", "--max-attempts",
                  "--request-timeout-s", "--base-url")


@pytest.mark.parametrize(("command", "flags"), [
    ("run", SETTINGS_FLAGS), ("select", SETTINGS_FLAGS), ("verify", SETTINGS_FLAGS),
    ("plan", ("--rate-per-minute",))])
def test_help_states_the_settings_defaults(command, flags, cli, capsys):
    with pytest.raises(SystemExit):
        cli(command, "--help")
    out = " ".join(capsys.readouterr().out.split())
    options = out.split(" options: ", 1)[1]  # past the usage line
    for flag in flags:
        name = flag.removeprefix("--").replace("-", "_")
        value = default(name)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        help_text = re.split(rf"{flag} \S+ ", options, maxsplit=1)[1].split(" --", 1)[0]
        assert f"(default {shown})" in help_text, (flag, help_text)


def test_the_main_help_names_every_exit_code(cli, capsys):
    with pytest.raises(SystemExit):
        cli("--help")
    out = " ".join(capsys.readouterr().out.split())
    codes = out.split("exit codes: ", 1)[1].split(". ", 1)[0]
    named = [int(c) for c in re.findall(r"(?<![\w-])(\d+) [a-z]", codes)]
    assert named == [int(c) for c in ExitCode]
