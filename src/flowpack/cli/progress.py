"""Progress on stderr: adapts the store's ``progress(stage, done, total)`` callback to click.

A bar is shown only when stderr is a terminal and ``--json`` is off; otherwise the callback is
None and the store does no progress work at all.  Each new stage closes the previous bar; a
stage with an unknown total (``total == 0``) is announced by its name alone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click

Callback = Callable[[str, int, int], None]


class ProgressBars:
    """A ``progress(stage, done, total)`` callable drawing one click bar per stage on ``file``."""

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self._stage: str | None = None
        self._bar: Any = None
        self._done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.finish()
            self._stage = stage
            if total > 0:
                self._bar = click.progressbar(length=total, label=stage, file=self.file)
                self._bar.__enter__()
            else:
                click.echo(f"{stage}...", file=self.file)
        if self._bar is not None and done > self._done:
            self._bar.update(done - self._done)
            self._done = done

    def finish(self) -> None:
        """Close the current bar, if any."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
        self._bar = None
        self._stage = None
        self._done = 0


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
