"""Time the README's set-up on a fresh virtual environment with an empty pip cache.

    python benchmarks/setup_time.py

Clones the committed tree into a temporary folder, makes a new virtual environment, and times
(1) ``make demo`` (install flowpack, register and run the example flow on a fresh default
store) and (2) the installs of ``make test`` (``make deps``: the pinned test needs, flowpack
itself, the test servers), with ``PIP_NO_CACHE_DIR=1`` and an empty npm cache, so nothing
comes from a cache.
The figures replace the set-up section of ``benchmarks/RESULTS.md`` (between its markers), which
``benchmarks/run.py`` keeps when it rewrites the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BEGIN, END = "<!-- setup:begin -->", "<!-- setup:end -->"
GOALS = {"make demo": 60.0, "make test's install (make deps)": 180.0}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def measure() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="flowpack-setup-") as tmp:
        work = Path(tmp)
        clone = work / "flowpack"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        venv = work / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        env = dict(
            os.environ,
            PIP_NO_CACHE_DIR="1",  # nothing from pip's cache
            npm_config_cache=str(work / "npm-cache"),  # nor from npm's
            FLOWPACK_TEST_SERVERS=str(work / "servers"),  # Azurite installed anew
            XDG_DATA_HOME=str(work / "data"),
        )
        env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
        env["VIRTUAL_ENV"] = str(venv)
        py = str(venv / "bin" / "python")
        demo = timed(["make", "demo", f"PY={py}"], clone, env)
        deps = timed(["make", "deps", f"PY={py}"], clone, env)
        return {"make demo": demo, "make test's install (make deps)": deps}


def section(figures: dict[str, float]) -> str:
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    lines = [
        BEGIN,
        "## Set-up from an empty pip cache",
        "",
        f"`python benchmarks/setup_time.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f", tree at {rev}: a fresh clone, a new virtual environment, `PIP_NO_CACHE_DIR=1`, "
        "installs pinned by `requirements/lock.txt` (no resolver backtracking).",
        "",
        "| step | seconds | goal | status |",
        "| --- | --- | --- | --- |",
    ]
    for step, secs in figures.items():
        goal = GOALS[step]
        status = "met" if secs <= goal else "**missed**"
        lines.append(f"| {step} | {secs:.1f} | <= {goal:.0f} | {status} |")
    return "\n".join([*lines, "", END])


def replace_section(text: str, new: str) -> str:
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + new + tail
    return text.rstrip("\n") + "\n\n" + new + "\n"


def main() -> int:
    figures = measure()
    out = HERE / "RESULTS.md"
    text = section(figures)
    print(text)
    out.write_text(replace_section(out.read_text() if out.exists() else "", text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
