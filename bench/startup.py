"""Start-up: how long `partoo-bulk --help` takes, against `python -c pass`.

Both run as fresh processes, alternately, several times; the median and the best are
shown. The difference is what our imports and argument parsing cost a user at every
command (target: well under a second).

    .venv/bin/python bench/startup.py [--quick]
"""

from __future__ import annotations

import statistics

from _common import PYTHON, measure, partoo_bulk, quick_flag, table


def run(quick: bool) -> str:
    rounds = 5 if quick else 20
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "partoo-bulk --help": [partoo_bulk(), "--help"],
        "partoo-bulk run --help": [partoo_bulk(), "run", "--help"],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, cmd in commands.items():
            result = measure(cmd)
            if result.code != 0:
                raise RuntimeError(f"{name}: exit {result.code}: {result.stderr[-500:]}")
            walls[name].append(result.wall_s)
    base = statistics.median(walls["python -c pass"])
    rows = []
    for name, times in walls.items():
        median = statistics.median(times)
        rows.append([name, rounds, median * 1000, min(times) * 1000,
                     (median - base) * 1000, f"{median / base:.1f}x"])
    return table("start-up: fresh processes, wall time in ms",
                 ["command", "runs", "median ms", "best ms", "over python ms", "ratio"],
                 rows)


if __name__ == "__main__":
    print(run(quick_flag()))
