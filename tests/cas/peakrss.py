"""Running the ``flowpack`` console script in a subprocess and measuring its peak RSS."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TIME = "/usr/bin/time"


@dataclass(frozen=True)
class Measured:
    code: int
    stderr: str
    peak_mib: float


def run_measured(env: dict[str, str], *args: str | Path, stdout: Path | None = None) -> Measured:
    """Run ``flowpack ARGS`` to completion; its exit code, stderr, and peak RSS (MiB).

    ``/usr/bin/time -f %M`` reports the peak of the flowpack process alone (a child forked
    from the test process would count the test's own pages until it execs).  Stdout goes to
    ``stdout`` (a file) or is discarded, so the test never holds it.
    """
    exe = shutil.which("flowpack")
    assert exe, "the flowpack console script is not installed (pip install -e .)"
    assert os.access(TIME, os.X_OK), f"{TIME} is needed to measure memory (apt install time)"
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        with open(stdout or os.devnull, "wb") as out:
            proc = subprocess.run(
                [TIME, "-f", "%M", "-o", rss.name, exe, *map(str, args)],
                stdout=out,
                stderr=subprocess.PIPE,
                env=env,
                timeout=600,
            )
        peak_kib = int(rss.read().strip().splitlines()[-1])
    return Measured(proc.returncode, proc.stderr.decode("utf-8", "replace"), peak_kib / 1024)
