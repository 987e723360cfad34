"""Where a command's memory is at its peak: one flowpack command run in-process under
tracemalloc, with a thread that snapshots the traced allocations whenever they grow by 2 %
(every 50 ms at most); prints the top allocation sites, and their tracebacks, of the largest
snapshot.  tracemalloc sees Python's allocations only (not zstd's contexts or the allocator's
arenas), and slows the command down: the figures are shares, not the peak RSS `memory.py` gives.

Usage: python benchmarks/peaksnap.py [--top N] -- FLOWPACK_ARGS...
Example: python benchmarks/peaksnap.py -- --store file:///tmp/s push tree --ref t
"""

from __future__ import annotations

import argparse
import runpy
import sys
import threading
import tracemalloc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--top", type=int, default=12)
    p.add_argument("args", nargs=argparse.REMAINDER)
    a = p.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    tracemalloc.start(4)
    seen = [0]  # traced bytes when the kept snapshot was taken
    snaps: list[tracemalloc.Snapshot] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            now, _ = tracemalloc.get_traced_memory()
            if now > seen[0] * 1.02:
                seen[0] = now
                snaps[:] = [tracemalloc.take_snapshot()]

    threading.Thread(target=watch, daemon=True).start()
    sys.argv = ["flowpack", *args]
    try:
        runpy.run_module("flowpack", run_name="__main__")
    except SystemExit:
        pass
    done.set()
    peak = tracemalloc.get_traced_memory()[1]
    print(f"peak traced {peak / 2**20:.1f} MiB; largest snapshot {seen[0] / 2**20:.1f} MiB")
    for stat in (snaps[0].statistics("traceback") if snaps else [])[: a.top]:
        print(f"-- {stat.size / 2**20:.1f} MiB in {stat.count:,} blocks")
        for line in stat.traceback.format():
            print(f"   {line}")


if __name__ == "__main__":
    main()
