"""Counting the bytes of one stage of long work for a ``progress(stage, done, total)`` callback.

The whole-store operations report in bytes, with the total known before the first byte moves
wherever it can be (so a rate and an ETA are honest from the first update): a pull the size of
the bundle, a copy the size of the objects the destination lacks, verify and gc the sizes of
the packs in scope.  A :class:`Meter` without a callback does nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowpack.cas.content import Progress


class Meter:
    """Bytes done of one stage, reported on every :meth:`add`; reported once at 0 when made
    with a total, so the display starts before the first byte is done.  ``total`` 0 means
    unknown (or nothing to do); a total that turns out short is raised to what was done."""

    def __init__(self, progress: Progress | None, stage: str, total: int) -> None:
        self.progress = progress
        self.stage = stage
        self.total = total
        self.done = 0
        if progress is not None and total > 0:
            progress(stage, 0, total)

    def add(self, n: int) -> None:
        """Count ``n`` more bytes done."""
        self.done += n
        if self.progress is not None:
            total = max(self.total, self.done) if self.total else 0
            self.progress(self.stage, self.done, total)

    def advance_to(self, done: int) -> None:
        """Count up to ``done`` bytes done in all (never back)."""
        if done > self.done:
            self.add(done - self.done)

    def grow(self, n: int) -> None:
        """Add ``n`` bytes of work found on the way (without reporting)."""
        self.total += n
