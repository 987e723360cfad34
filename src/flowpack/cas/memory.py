"""One memory budget per process: the bytes of data flowpack holds at once, whatever the verb.

Everything that holds data draws on the same :class:`MemoryBudget`, so that the parts add up
to one bound instead of each having a cap of its own:

* the readers' decoded frames: LRU caches of one working set at most (half the total), which
  give way to what else is held (:meth:`MemoryBudget.caches_over`); what a planned read (a
  restore, a copy, a new frame's bases) still needs beyond them is kept on disk
  (:mod:`flowpack.cas.spill`), so the work a read may do is bounded apart from memory
  (:func:`flowpack.cas.budget.base_work`);
* the writer's frames in flight, queued for compression or compressed and not yet in a pack
  (:attr:`MemoryBudget.in_flight`); packs are assembled in a temporary file;
* packs held whole while they upload (:attr:`MemoryBudget.packs`), which also sizes packs;
* raw frames read ahead and not decoded yet (:attr:`MemoryBudget.read_ahead`): prefetch windows,
  the frames a compression plans from, whole packs of a location without range reads.

Holdings are counted (:meth:`hold`, :meth:`release`) as they come and go; the shares are fixed
fractions of the total, so what a push stores never depends on timing.  zstd's working memory
(a compression context per worker, capped by :data:`flowpack.cas.codec.DICT_HASH_LOG`) and the
interpreter's own (about 25 MB with flowpack's imports) come on top.

The total is :data:`DEFAULT_TOTAL`, or ``FLOWPACK_MEMORY`` (a size such as ``48M``) when set.

:func:`one_malloc_arena` is for a process that flowpack owns (the CLI): glibc gives each thread
that allocates its own arena, and frames decoded by the compression threads, freed by the cache
in another, left 7-10 MB of holes across three arenas at the peak of a push.
"""

from __future__ import annotations

import os
import threading

from flowpack.cas.errors import UsageError

ENV_MEMORY = "FLOWPACK_MEMORY"
DEFAULT_TOTAL = 16 << 20
#: The smallest total accepted: below it a frame's working set would hold no base at all.
MIN_TOTAL = 4 << 20
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class MemoryBudget:
    """The bytes of data one process may hold (see the module docstring).  Thread-safe."""

    def __init__(self, total: int = DEFAULT_TOTAL) -> None:
        if total < MIN_TOTAL:
            raise UsageError(f"a memory budget of {total} bytes is below {MIN_TOTAL}")
        self.total = total
        self._lock = threading.Lock()
        self._held = 0
        self._cached = 0
        self.peak = 0

    @property
    def working_set(self) -> int:
        """Decoded frames the readers' caches may hold (half the total)."""
        return self.total // 2

    @property
    def packs(self) -> int:
        """Bytes of packs held whole for their upload (a quarter); the largest pack a writer
        assembles is this or less."""
        return self.total // 4

    @property
    def read_ahead(self) -> int:
        """Raw bytes fetched ahead of their decode (an eighth)."""
        return self.total // 8

    @property
    def in_flight(self) -> int:
        """Bytes of a writer's frames between its ``add`` and their pack (an eighth)."""
        return self.total // 8

    @property
    def held(self) -> int:
        """Bytes held now, outside the decoded-frame cache."""
        return self._held

    @property
    def cached(self) -> int:
        """Bytes of decoded frames cached now, in every reader of the process."""
        return self._cached

    def hold(self, n: int) -> None:
        """Count ``n`` more bytes as held (outside the caches)."""
        with self._lock:
            self._held += n
            self.peak = max(self.peak, self._held + self._cached)

    def release(self, n: int) -> None:
        """Count ``n`` bytes held before as given back."""
        with self._lock:
            self._held -= n

    def cache(self, n: int) -> None:
        """Count ``n`` more bytes of decoded frames cached (negative: evicted)."""
        with self._lock:
            self._cached += n
            self.peak = max(self.peak, self._held + self._cached)

    def caches_over(self) -> bool:
        """Whether the caches hold more than one working set, or more than the holdings leave
        them: a cache that adds a frame then evicts its oldest until this is False."""
        return self._cached > min(self.working_set, self.total - self._held)


def parse_size(text: str) -> int:
    """Bytes from ``123``, ``64K``, ``48M`` or ``1G`` (binary units); UsageError otherwise."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    number = t[: len(t) - len(unit)]
    if not number.isdigit():
        raise UsageError(f"{ENV_MEMORY} must be a size such as 48M, not {text!r}")
    return int(number) * _UNITS[unit]


def one_malloc_arena() -> None:
    """Make glibc's malloc keep one arena for every thread (``M_ARENA_MAX`` 1); a no-op where
    the C library has no ``mallopt``.  For a process flowpack owns, before it starts threads."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_ARENA_MAX, 1)


_M_ARENA_MAX = -8
_default: MemoryBudget | None = None
_default_lock = threading.Lock()


def process_budget() -> MemoryBudget:
    """The process's budget: :data:`DEFAULT_TOTAL`, or ``FLOWPACK_MEMORY`` when set."""
    global _default
    with _default_lock:
        if _default is None:
            text = os.environ.get(ENV_MEMORY, "").strip()
            _default = MemoryBudget(parse_size(text) if text else DEFAULT_TOTAL)
        return _default
