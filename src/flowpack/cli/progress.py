"""Progress on stderr: adapts the store's ``progress(stage, done, total)`` callback to click.

A bar is shown only when stderr is a terminal and ``--json`` is off; otherwise the callback is
None and the store does no progress work at all.  Each new stage closes the previous bar; a
stage with an unknown total (``total == 0``) is announced by its name alone.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

Callback = Callable[[str, int, int], None]


#: Stages whose counts are bytes (drawn as sizes and a byte rate).
BYTE_STAGES = frozenset({"pack", "push", "pull", "copy", "read"})
#: Seconds between redraws.
REDRAW = 0.2


class ProgressBars:
    """A ``progress(stage, done, total)`` callable drawing one status line per stage on ``file``:
    done of total, the rate and an ETA from the rate so far (shown from the first update, as
    "ETA ?" until a rate is measurable), redrawn at most every :data:`REDRAW` seconds."""

    def __init__(self, file: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.file = file
        self._clock = clock
        self._stage: str | None = None
        self._start = 0.0
        self._drawn = 0.0
        self._done = 0
        self._total = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self._clock()
        if stage != self._stage:
            self.finish()
            self._stage, self._start, self._drawn = stage, now, 0.0
            if total <= 0:
                click.echo(f"{stage}...", file=self.file)
        self._done, self._total = done, total
        if total > 0 and (now - self._drawn >= REDRAW or done >= total):
            self._drawn = now
            self.file.write("\r" + self.line(now) + "\x1b[K")
            self.file.flush()

    def line(self, now: float) -> str:
        """The status line of the current stage at time ``now``."""
        stage, done, total = self._stage or "", self._done, self._total
        elapsed = max(now - self._start, 1e-6)
        unit = _size if stage in BYTE_STAGES else str
        rate = done / elapsed
        pct = 100 * done // total if total else 0
        if done >= total:
            eta = f"in {elapsed:.1f}s"
        elif done > 0 and elapsed >= 0.05:
            eta = f"ETA {(total - done) / rate:.0f}s"
        else:
            eta = "ETA ?"
        return f"{stage}: {unit(done)}/{unit(total)} ({pct}%) {unit(int(rate))}/s {eta}"

    def finish(self) -> None:
        """End the current stage's line, if one was drawn."""
        if self._stage is not None and self._total > 0:
            self.file.write("\r" + self.line(self._clock()) + "\x1b[K\n")
            self.file.flush()
        self._stage = None
        self._done = self._total = 0


def _size(n: int) -> str:
    if n < 1000:
        return f"{n}B"
    x = n / 1000
    for unit in ("KB", "MB"):
        if x < 1000:
            return f"{x:.1f}{unit}"
        x /= 1000
    return f"{x:.1f}GB"


def wants_progress(json_output: bool, stream: TextIO | None = None) -> bool:
    """Whether to draw progress: stderr is a terminal and output is not JSON."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return not json_output and callable(isatty) and bool(isatty())


@contextmanager
def progress_bars(json_output: bool) -> Iterator[Callback | None]:
    """Yield a progress callback for the store (or None when no progress should be shown)."""
    if not wants_progress(json_output):
        yield None
        return
    bars = ProgressBars(sys.stderr)
    try:
        yield bars
    finally:
        bars.finish()
