"""Every benchmark, one after the other, with the machine they ran on.

    .venv/bin/python bench/run_all.py [--quick]

--quick (what CI runs) uses small sizes: it proves the benchmarks still work, in well
under a minute; its figures are not the targets' (short runs weigh start-up and the
rate's first adaptation more). Nothing here asserts a timing: the exit code is 0 unless
a benchmark crashed (1), so CI catches rot, not a slow machine.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback

import imports
import latency
import memory
import overhead
import pacing
import report_speed
import resume
import sharing
import startup
import tls
from _common import quick_flag

BENCHES = (("start-up", startup), ("https start-up", tls), ("imports", imports),
           ("pacing", pacing), ("latency", latency), ("sharing", sharing),
           ("overhead", overhead), ("memory", memory), ("resume", resume),
           ("report", report_speed))


def main() -> int:
    quick = quick_flag()
    print(f"partoo-bulk benchmarks ({'quick' if quick else 'full'}): "
          f"{platform.node()}, {os.cpu_count()} CPUs ({platform.processor() or '?'}), "
          f"Python {platform.python_version()}, {platform.system()} {platform.release()}")
    crashed = []
    started = time.perf_counter()
    for name, module in BENCHES:
        began = time.perf_counter()
        try:
            print(f"\n{module.run(quick)}")
        except Exception:
            crashed.append(name)
            print(f"\n{name}: CRASHED", file=sys.stderr)
            traceback.print_exc()
        print(f"({name}: {time.perf_counter() - began:.1f} s)", flush=True)
    print(f"\nall benchmarks: {time.perf_counter() - started:.1f} s"
          + (f"; crashed: {', '.join(crashed)}" if crashed else ""))
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
