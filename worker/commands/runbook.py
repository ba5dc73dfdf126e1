"""`partoo-bulk runbook list|show NAME|install DIR`: the shipped runbooks (shell scripts).

They are package data (worker/data/runbooks/; jobs/*.sh in a clone are symlinks to them),
so a pipx or uv install has them too. `install` copies them with the absolute path of
this install's Python written in (`installed_python=...`): a copy run by cron, whose PATH
(/usr/bin:/bin) does not hold partoo-bulk, still calls this partoo-bulk.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["PIN_LINE", "add_parser", "handle", "pinned", "runbooks"]

# The line of each runbook that `install` fills in with this install's Python; the
# runbook calls `"$installed_python" -m worker` when it is set and PARTOO_BULK is not.
PIN_LINE = 'installed_python=""'
_SUFFIX = ".sh"

EXAMPLES = """\
examples:
  partoo-bulk runbook list                          # the runbooks and what each does
  partoo-bulk runbook show close-stale | less       # read one before you run it
  partoo-bulk runbook install /srv/partoo/jobs      # copy them, this install's path in them
  partoo-bulk runbook install /srv/partoo/jobs --overwrite   # after an upgrade

environment: none (each runbook's header lists the variables it reads).
"""


def runbooks() -> dict[str, Traversable]:
    """Name (the file name without .sh) -> the shipped runbook, by name."""
    from importlib import resources  # here: not on every command's start-up

    folder = resources.files("worker").joinpath("data", "runbooks")
    found = {p.name.removesuffix(_SUFFIX): p for p in folder.iterdir()
             if p.name.endswith(_SUFFIX)}
    return dict(sorted(found.items()))


def summary(text: str) -> str:
    """The runbook's first comment line after the shebang: what it does."""
    return next((line[2:].strip() for line in text.splitlines()[1:] if line.startswith("# ")),
                "")


def pinned(text: str, python: str) -> str:
    """The runbook with `python` (absolute) as the partoo-bulk it calls by default."""
    return text.replace(PIN_LINE, f"installed_python={shlex.quote(python)}", 1)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("runbook", help="list, print or install the shipped runbooks",
                       description="The runbooks shipped with partoo-bulk (shell scripts for "
                       "cron and schedulers): list them, print one, or install them in a "
                       "folder with this install's absolute path written in, so that they "
                       "run under cron's PATH.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("list", help="the runbooks and what each does")
    show = verbs.add_parser("show", help="print a runbook as shipped")
    show.add_argument("name", metavar="NAME", help="a name from `runbook list`")
    install = verbs.add_parser("install", help="copy every runbook into DIR (made if "
                               "missing), executable, calling this install's partoo-bulk")
    install.add_argument("dir", type=Path, metavar="DIR", help="the folder to copy them to")
    install.add_argument("--overwrite", action="store_true",
                         help="replace runbooks already in DIR that differ")


def handle(args: argparse.Namespace) -> int:
    from worker.core.errors import ConfigError

    shipped = runbooks()
    if args.verb == "list":
        for name, path in shipped.items():
            print(f"{name:<18} {summary(path.read_text(encoding='utf-8'))}")
        return 0
    if args.verb == "show":
        if args.name.removesuffix(_SUFFIX) not in shipped:
            raise ConfigError(f"no runbook named {args.name!r}: the runbooks are "
                              f"{', '.join(shipped)} (partoo-bulk runbook list)")
        print(shipped[args.name.removesuffix(_SUFFIX)].read_text(encoding="utf-8"), end="")
        return 0
    return _install(args.dir, shipped, overwrite=args.overwrite)


def _install(folder: Path, shipped: dict[str, Traversable], *, overwrite: bool) -> int:
    from worker.core.errors import ConfigError

    python = str(Path(sys.executable).absolute())  # not resolved: a venv's python is the venv
    folder = folder.absolute()  # what it prints: the paths a crontab line needs
    texts = {folder / f"{name}{_SUFFIX}": pinned(path.read_text(encoding="utf-8"), python)
             for name, path in shipped.items()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        differ = [p for p, text in texts.items()
                  if p.exists() and p.read_text(encoding="utf-8", errors="replace") != text]
        if differ and not overwrite:
            raise ConfigError(f"{differ[0]} exists and differs from the runbook this "
                              "install would write: pass --overwrite to replace it (or "
                              "install into another folder)")
        for path, text in texts.items():
            path.unlink(missing_ok=True)  # a symlink is replaced, not written through
            path.write_text(text, encoding="utf-8")
            path.chmod(0o755)
    except OSError as exc:
        raise ConfigError(f"cannot install the runbooks in {folder}: "
                          f"{exc.strerror or exc}: choose a folder you can write") from None
    for path in texts:
        print(f"runbook: {path}")
    print(f"runbook: they call {python} -m worker unless PARTOO_BULK is set")
    return 0
