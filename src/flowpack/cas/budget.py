"""A hard budget on the work of reading a new frame's bases.

Compressing a new frame against stored chunks means decoding those chunks, which means
decoding their own frames' bases, transitively: a tree of frames whose size depends on history
(several bases per frame, chains up to ``MAX_DEPTH`` deep), not on the bytes being written.
Unbounded, one push of a long history can decode the same old frames again and again once they
no longer fit the reader's cache.

:class:`BaseBudget` bounds it.  Before a frame is compressed, its candidate bases are admitted
one at a time: the frames each one needs (from the reader's cache, else from their headers) are
added to the frame's working set, and a base whose frames would take the working set past the
limit (the writer's is :func:`base_work`, :data:`BASE_WORK` decoded bytes) is left out (the
writer then tries a shallower base, else compresses against fewer bases, or none).  So each
new frame decodes at most that much of old frames and the work of a push is linear in the
bytes it writes.  The limit bounds work, not memory: the writer reads a frame's bases as a
planned read (:meth:`~flowpack.cas.reader.ChunkReader.plan`), so the frames the reader's cache
cannot hold go to the write session's spill (:mod:`flowpack.cas.spill`) and none is decoded
twice (the writer fetches one frame's bases at a time, then compresses frames in parallel).
"""

from __future__ import annotations

from collections.abc import Iterable

from flowpack.cas.digest import Digest
from flowpack.cas.memory import MemoryBudget
from flowpack.cas.reader import ChunkReader

#: Decoded bytes of old frames one new frame's bases may cost at most (a bound on work, not on
#: memory: the writer reads them as a planned read, so what the cache cannot hold is kept on
#: disk).  Below it, large generated files (Pygments' lexer tables) lost their bases.
BASE_WORK = 24 << 20


def base_work(budget: MemoryBudget) -> int:
    """The limit a writer gives :class:`BaseBudget`: :data:`BASE_WORK`, or the budget's
    working set if that is larger."""
    return max(BASE_WORK, budget.working_set)


class BaseBudget:
    """Admits the bases of one new frame within ``limit`` decoded bytes of old frames (by
    default the reader's budget's working set; the writer passes :func:`base_work` and reads
    the bases as a planned read, see ``Writer._dictionary``).  One per frame; not
    thread-safe."""

    def __init__(self, reader: ChunkReader, limit: int | None = None) -> None:
        self._reader = reader
        self._limit = reader.budget.working_set if limit is None else limit
        self._seen: set[tuple[str, int]] = set()
        self._stashed: list[tuple[str, int]] = []
        self.used = 0

    def admit(self, base: Digest) -> bool:
        """Whether ``base`` (and every frame it needs) fits what is left of the budget; if
        so it is counted, else nothing is."""
        added: list[tuple[str, int]] = []
        used = self.used
        todo = [base]
        while todo:
            d = todo.pop()
            loc = self._reader.index.get(d)
            if loc is None:
                self._undo(added)
                return False
            key = (loc.pack.hex, loc.frame_offset)
            if key in self._seen:
                continue
            self._seen.add(key)
            added.append(key)
            plan = self._reader.frame_plan(loc)
            if plan is None:  # unreadable: leave the base out, decoding would fail too
                self._undo(added)
                return False
            size, bases, stashed = plan
            if stashed:
                self._stashed.append(key)
            used += size
            if used > self._limit:
                self._undo(added)
                return False
            todo.extend(bases)
        self.used = used
        return True

    def admit_set(self, bases: Iterable[Digest]) -> bool:
        """Whether all of ``bases`` fit together; if so they are counted, else none is."""
        seen, used, stashed = set(self._seen), self.used, len(self._stashed)
        for b in bases:
            if not self.admit(b):
                self._reader.unstash(self._stashed[stashed:])
                self._stashed = self._stashed[:stashed]
                self._seen, self.used = seen, used
                return False
        return True

    def _undo(self, added: list[tuple[str, int]]) -> None:
        self._seen.difference_update(added)
        gone = set(added)
        self._reader.unstash(k for k in self._stashed if k in gone)
        self._stashed = [k for k in self._stashed if k not in gone]

    def release(self) -> None:
        """Drop raw frames read for planning that the decode did not consume."""
        self._reader.unstash(self._stashed)
        self._stashed = []
