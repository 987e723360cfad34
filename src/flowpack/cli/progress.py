"""What long commands say on stderr: progress on a terminal, one summary line elsewhere.

The store reports through a plain ``progress(stage, done, total)`` callback (``total`` 0 when
unknown; most stages count bytes, see :data:`BYTE_STAGES`).  :func:`feedback` gives a command a
:class:`Feedback`: on a terminal it draws one status line per stage (:class:`ProgressBars`);
off a terminal it draws nothing while the command runs and prints one summary line at the end
(:meth:`Feedback.summary`, e.g. ``pushed 1,234 files, 56.7 MB (12.3 MB new) in 3.4 s``).
``--json`` and ``--quiet`` silence both; stdout is never written.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

Callback = Callable[[str, int, int], None]


#: Stages whose counts are bytes (drawn as sizes and a byte rate); others count items.
BYTE_STAGES = frozenset(
    {"plan", "pack", "pull", "copy", "read", "files", "mark", "examine", "sweep"}
)
#: Seconds between redraws.
REDRAW = 0.2
#: Seconds of a stage after which its rate (and so an ETA) is shown.
MEASURABLE = 0.05


class ProgressBars:
    """A ``progress(stage, done, total)`` callable drawing one status line per stage on ``file``:
    done of total, the rate and an ETA from the rate so far (shown from the first update, as
    "ETA ?" until a rate is measurable), redrawn at most every :data:`REDRAW` seconds.  A stage
    of unknown total shows what is done and the rate once it has started."""

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
            if total <= 0 and done <= 0:
                click.echo(f"{stage}...", file=self.file)
        self._done, self._total = done, total
        if (total > 0 or done > 0) and (now - self._drawn >= REDRAW or 0 < total <= done):
            self._drawn = now
            self.file.write("\r" + self.line(now) + "\x1b[K")
            self.file.flush()

    def line(self, now: float) -> str:
        """The status line of the current stage at time ``now``."""
        stage, done, total = self._stage or "", self._done, self._total
        elapsed = max(now - self._start, 1e-6)
        unit = size_text if stage in BYTE_STAGES else count_text
        measured = elapsed >= MEASURABLE or 0 < total <= done
        rate = done / elapsed
        speed = f"{unit(int(rate))}/s" if measured else "?/s"
        if total <= 0:
            return f"{stage}: {unit(done)} {speed}"
        pct = 100 * done // total
        if done >= total:
            eta = f"in {elapsed:.1f}s"
        elif done > 0 and elapsed >= MEASURABLE:
            eta = f"ETA {duration_text((total - done) / rate)}"
        else:
            eta = "ETA ?"
        return f"{stage}: {unit(done)}/{unit(total)} ({pct}%) {speed} {eta}"

    def finish(self) -> None:
        """End the current stage's line, if one was drawn."""
        if self._stage is not None and (self._total > 0 or self._done > 0):
            self.file.write("\r" + self.line(self._clock()) + "\x1b[K\n")
            self.file.flush()
        self._stage = None
        self._done = self._total = 0


class Feedback:
    """A command's progress callback and its closing summary line.

    :attr:`callback` is what the store is given: the bars on a terminal, a tally of each
    stage's count when a summary will be printed, None (no progress work) when silent."""

    def __init__(
        self,
        file: TextIO,
        *,
        bars: bool,
        summarize: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.file = file
        self.bars = ProgressBars(file, clock) if bars else None
        self.summarize = summarize and not bars
        self._clock = clock
        self._start = clock()
        self._counts: dict[str, int] = {}

    @property
    def callback(self) -> Callback | None:
        return self if self.bars is not None or self.summarize else None

    def __call__(self, stage: str, done: int, total: int) -> None:
        self._counts[stage] = done
        if self.bars is not None:
            self.bars(stage, done, total)

    def count(self, stage: str) -> int:
        """The last count reported for ``stage`` (0 if it never ran)."""
        return self._counts.get(stage, 0)

    def summary(self, text: str) -> None:
        """Off a terminal (and unless silenced), print ``text`` and the time taken on stderr."""
        if self.summarize:
            click.echo(f"{text} in {self._clock() - self._start:.1f} s", file=self.file)

    def finish(self) -> None:
        if self.bars is not None:
            self.bars.finish()


def size_text(n: int) -> str:
    """``n`` bytes in decimal units, as progress and summaries show them (``56.7 MB``)."""
    if n < 1000:
        return f"{n} B"
    x = n / 1000
    for unit in ("kB", "MB", "GB"):
        if x < 1000:
            return f"{x:.1f} {unit}"
        x /= 1000
    return f"{x:.1f} TB"


def count_text(n: int) -> str:
    """A count with thousands separators (``1,234``)."""
    return f"{n:,}"


def duration_text(seconds: float) -> str:
    """An ETA: ``42s``, ``3m05s``, ``2h07m``."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def wants_progress(json_output: bool, stream: TextIO | None = None) -> bool:
    """Whether to draw progress: stderr is a terminal and output is not JSON."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return not json_output and callable(isatty) and bool(isatty())


@contextmanager
def feedback(json_output: bool, quiet: bool) -> Iterator[Feedback]:
    """A :class:`Feedback` on stderr: bars on a terminal, else a summary; silent with
    ``json_output`` or ``quiet``.  The bars are closed when the block ends."""
    silent = json_output or quiet
    fb = Feedback(sys.stderr, bars=not silent and wants_progress(False), summarize=not silent)
    try:
        yield fb
    finally:
        fb.finish()
