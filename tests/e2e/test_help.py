"""The command line's own promises: every --help has examples that parse and name files
that exist, and lists the environment it reads; no message names a flag that does not
exist; shell completion works in a real shell."""

from __future__ import annotations

import argparse
import ast
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from worker.cli import _parser
from worker.commands import COMMANDS

ROOT = Path(__file__).resolve().parents[2]


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser, _ = _parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def all_flags() -> set[str]:
    parser, _ = _parser()
    flags = {s for a in parser._actions for s in a.option_strings}
    for sub in subparsers().values():
        flags |= {s for a in sub._actions for s in a.option_strings}
    return flags


def example_lines(help_text: str) -> list[str]:
    """The example command lines (continuation lines joined, comments cut)."""
    joined = re.sub(r"\\\n\s*", " ", help_text)
    lines = [line.split("  #")[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line.startswith("partoo-bulk ")]


def commands_in(line: str) -> list[list[str]]:
    """The words of each command of a shell line (pipes, &&, redirections apart)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, words, skip = [], [], False
    for token in lexer:
        if token in ("|", "&&", ";", "&"):
            commands.append(words)
            words = []
        elif token in (">", ">>", "<"):
            skip = True
        elif skip:
            skip = False
        else:
            words.append(token)
    return [*commands, words]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_help_has_examples_that_parse_and_lists_its_environment(name):
    sub = subparsers()[name]
    text = sub.format_help()
    assert "environment" in text  # even if it is "none"
    examples = example_lines(text)
    if name not in ("demo", "simulate"):
        assert examples, f"{name} --help has no example"
    for line in examples:
        for words in commands_in(line):  # each partoo-bulk of a pipeline must parse
            if words and words[0] == "partoo-bulk":
                parser, _ = _parser()
                parser.parse_args(words[1:])  # SystemExit on a flag that does not exist
    for path in re.findall(r"\b(jobs/[\w.-]+)", text):
        assert (ROOT / path).exists(), f"{name} --help names {path}, which does not exist"


def test_the_environment_named_in_help_is_what_the_code_reads():
    read = set()
    for path in (ROOT / "worker").rglob("*.py"):
        read |= set(re.findall(r"\b(PARTOO_[A-Z_]+|XDG_CONFIG_HOME)\b", path.read_text()))
    from worker.config import Settings

    settings_vars = {f"PARTOO_{name.upper()}" for name in Settings.model_fields}
    for name, sub in subparsers().items():
        named = set(re.findall(r"\b(PARTOO_[A-Z_]+|XDG_CONFIG_HOME)\b", sub.format_help()))
        assert named <= read | settings_vars, (name, named - read - settings_vars)


def _strings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def test_no_message_names_a_flag_that_does_not_exist():
    known = all_flags()
    named: dict[str, Path] = {}
    for path in (ROOT / "worker").rglob("*.py"):
        if "simulator" in path.parts:  # its own flags are `simulate`'s, checked below
            continue
        for text in _strings(ast.parse(path.read_text())):
            for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text):
                named.setdefault(flag, path)
    # Flags of other programs our messages quote (ssh, pip, node_exporter), and other
    # tools' flags a usage error answers (`--dry-run`: plan does that here), and the
    # spellings of a key flag that are refused as such (`--partoo-key KEY`: never echoed).
    other = {"--collector", "--dry-run", "--dryrun", "--partoo-key"}
    unknown = {f: str(p) for f, p in named.items() if f not in known and f not in other}
    assert unknown == {}


def test_a_settings_error_never_names_a_flag_that_does_not_exist(cli):
    for env in ({"PARTOO_BURST": "0"}, {"PARTOO_FAILURE_WINDOW": "0"},
                {"PARTOO_API_KEY": "a b"}, {"PARTOO_BACKOFF_MAX_S": "-1"}):
        result = cli("run", "job.csv", "--yes", env=env)
        assert result.code == 2 and "invalid settings" in result.err
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.err):
            assert flag in all_flags(), (env, flag)


def completion_script(shell: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "worker", "completion", shell],
                          capture_output=True, text=True, check=True)
    return proc.stdout


def complete_in_bash(script: str, words: list[str], cwd: Path) -> list[str]:
    """What bash offers after `words` (the last one being completed)."""
    program = (f"source {shlex.quote(str(cwd / 'c.bash'))}\n"
               f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
               f"COMP_CWORD={len(words) - 1}\n"
               "_shtab_partoo_bulk\n"
               'printf "%s\\n" "${COMPREPLY[@]}"\n')
    (cwd / "c.bash").write_text(script)
    proc = subprocess.run(["bash", "-c", program], capture_output=True, text=True,
                          cwd=cwd, check=True)
    return proc.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completion_offers_commands_flags_choices_and_files(tmp_path):
    script = completion_script("bash")
    (tmp_path / "moves.csv").write_text("conversation_id,status\n")
    assert complete_in_bash(script, ["partoo-bulk", "r"], tmp_path) == ["run", "report", "runbook"]
    assert "--canary" in complete_in_bash(script, ["partoo-bulk", "run", "--c"], tmp_path)
    assert complete_in_bash(script, ["partoo-bulk", "run", "--log-format", ""],
                            tmp_path) == ["text", "json"]
    assert complete_in_bash(script, ["partoo-bulk", "plan", "mo"], tmp_path) == ["moves.csv"]
    assert complete_in_bash(script, ["partoo-bulk", "completion", ""],
                            tmp_path) == ["bash", "zsh", "tcsh"]


def test_zsh_completion_is_a_compdef_function_that_zsh_can_read(tmp_path):
    script = completion_script("zsh")
    assert script.startswith("#compdef partoo-bulk")
    assert "--metrics-out" in script and "--json" in script
    if shutil.which("zsh"):
        (tmp_path / "_partoo-bulk").write_text(script)
        subprocess.run(["zsh", "-n", str(tmp_path / "_partoo-bulk")], check=True)


def test_the_path_hint_is_shtabs_own():
    import shtab

    from worker.commands._flags import FILE

    assert {shell: shtab.FILE[shell] for shell in FILE} == FILE
