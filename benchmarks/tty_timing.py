"""When a command's progress appears: run it with stderr on a pseudo-terminal and print the time
of its first progress line, of its first numeric ETA, the longest gap between redraws and the
end (seconds from the start), then a sample of the lines.

    python benchmarks/tty_timing.py flowpack copy SRC DST
"""

from __future__ import annotations

import itertools
import os
import pty
import re
import subprocess
import sys
import time


def timed_lines(argv: list[str]) -> tuple[list[tuple[float, str]], float, int]:
    """Each redrawn line of ``argv``'s stderr with its arrival time; the end time; the exit."""
    master, slave = pty.openpty()
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    lines: list[tuple[float, str]] = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO once the child side is closed
            break
        if not chunk:
            break
        t = time.monotonic() - t0
        for piece in chunk.replace(b"\x1b[K", b"").split(b"\r"):
            if piece.strip():
                lines.append((t, piece.decode(errors="replace").strip()))
    os.close(master)
    code = proc.wait()
    return lines, time.monotonic() - t0, code


def main() -> None:
    lines, end, code = timed_lines(sys.argv[1:])
    first = f"{lines[0][0]:.2f} s" if lines else "none"
    eta = next((f"{t:.2f} s" for t, x in lines if re.search(r"ETA \d", x)), "none")
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(lines)]
    gap = f"{max(gaps):.2f} s" if gaps else "none"
    print(f"first line {first}, first ETA {eta}, longest gap {gap}, end {end:.2f} s, exit {code}")
    step = max(1, len(lines) // 12)
    for t, text in lines[:3] + lines[3:-2:step] + lines[-2:]:
        print(f"  {t:6.2f}  {text}")


if __name__ == "__main__":
    main()
