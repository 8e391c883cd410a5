"""Run a module under cProfile, timed in CPU seconds of this process.

    python -m bench.cpu_profile OUT.prof MODULE [ARGS...]

``python -m cProfile`` times functions by the wall clock, so on a machine shared with other
runs a function is also charged for the time others had the CPU. Counting this process's CPU
time instead keeps the shares of a profile comparable between runs under different loads.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    out, module, *arguments = sys.argv[1:]
    sys.argv = [module, *arguments]
    profiler = cProfile.Profile(time.process_time)
    try:
        profiler.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    finally:
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
