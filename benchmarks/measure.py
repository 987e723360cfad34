"""Measuring child processes: wall time, CPU time and peak RSS of each command a peer runs.

A :class:`Meter` runs commands one after another and sums what they cost.  Each command runs
under GNU ``/usr/bin/time``, whose peak RSS covers the command and every descendant it waited for
(so a ``sh -c 'tar | zstd'`` pipeline reports its largest process).  The harness cannot read peak
RSS from its own ``wait4``: a child forked from this Python process keeps its parent's memory
high-water mark across ``exec``, so every command would seem to need the harness's 20-odd MB.
CPU time comes from ``wait4``; wall time is measured around each child only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Seconds after which a command is killed and counted as failed (a hung command, not a slow one).
TIMEOUT = 1800.0  # git gc --aggressive of the 1 GB JSON corpus takes minutes
#: GNU time: ``-f %M`` prints the peak RSS in KiB of the command and what it waited for.
TIME = "/usr/bin/time"


class CommandFailed(RuntimeError):
    """A measured command failed: the message carries its argv, ``reason`` a short cause."""

    def __init__(self, argv: Sequence[str], reason: str) -> None:
        super().__init__(f"{' '.join(argv)}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Run:
    """One finished command."""

    argv: tuple[str, ...]
    wall: float
    cpu: float
    peak_rss: int
    stdout: bytes
    stderr: bytes


@dataclass
class Meter:
    """Sums of wall time and CPU time, and the largest peak RSS, over the commands it ran."""

    wall: float = 0.0
    cpu: float = 0.0
    peak_rss: int = 0
    runs: list[Run] = field(default_factory=list)

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes = b"",
        check: bool = True,
        timeout: float = TIMEOUT,
    ) -> Run:
        """Run ``argv`` to completion and account for it; raise :class:`CommandFailed` on error.

        A command still running after ``timeout`` seconds is killed (its whole process group)
        and reported as failed, so one hung peer cannot stall the harness.
        """
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            with tempfile.TemporaryFile() as inp, tempfile.NamedTemporaryFile() as rss:
                inp.write(stdin)
                inp.seek(0)
                t0 = time.perf_counter()
                proc = subprocess.Popen(
                    [TIME, "-f", "%M", "-o", rss.name, *argv],
                    cwd=cwd,
                    env=dict(env) if env is not None else None,
                    stdin=inp,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
                timer = threading.Timer(timeout, _kill_group, (proc.pid,))
                timer.start()
                try:
                    _, status, usage = os.wait4(proc.pid, 0)
                finally:
                    timer.cancel()
                wall = time.perf_counter() - t0
                if wall >= timeout:
                    raise CommandFailed(argv, f"timed out after {timeout:.0f} s")
                words = rss.read().split()
                peak_kib = int(words[-1]) if words and words[-1].isdigit() else 0
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            run = Run(
                tuple(argv),
                wall,
                usage.ru_utime + usage.ru_stime,
                peak_kib * 1024,
                out.read(),
                err.read(),
            )
        if check and proc.returncode != 0:
            tail = run.stderr.decode("utf-8", "replace").strip()[-300:]
            raise CommandFailed(argv, f"exit {proc.returncode}: {tail}")
        self.wall += run.wall
        self.cpu += run.cpu
        self.peak_rss = max(self.peak_rss, run.peak_rss)
        self.runs.append(run)
        return run

    @property
    def cores(self) -> float:
        """CPU time over wall time: 2.0 means both cores were busy throughout."""
        return self.cpu / self.wall if self.wall else 0.0


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def python_env(cache: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment where Python writes and reuses bytecode, under ``cache``.

    An installed package has its bytecode compiled; a shell with ``PYTHONDONTWRITEBYTECODE``
    set (as some containers have) would make every run of a Python tool compile each of its
    modules again, a cost no user pays.  The cache lives in the work folder, not the source tree.
    """
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, to judge how busy the machine was."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def tree_bytes(*paths: Path) -> int:
    """Apparent size in bytes of every regular file under ``paths`` (missing paths count 0)."""
    total = 0
    for root in paths:
        if root.is_file():
            total += root.stat().st_size
            continue
        for dirpath, _, files in os.walk(root):
            for name in files:
                p = Path(dirpath) / name
                if not p.is_symlink():
                    total += p.stat().st_size
    return total
