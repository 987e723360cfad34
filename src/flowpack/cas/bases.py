"""Choosing bases: which stored chunks a new chunk is compressed against.

A new chunk of file ``P`` is compressed against the chunks of the previous version of ``P``
(the parent bundle's file at the same path, or, when the path is new, the file with the same
name and the longest common path suffix: a moved file) that overlap its byte range.  Chains are
bounded: when the parent's chunks already sit ``MAX_DEPTH`` deltas deep, the finder walks back
through older versions (each manifest frame's base is an earlier manifest) to the nearest one
whose chunks are at most ``MAX_DEPTH // 2`` deep — a skip-delta, so a long history never falls
back to compressing a version from scratch and no read decodes more than ``MAX_DEPTH`` frames.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError
from flowpack.cas.index import Index
from flowpack.cas.manifest import FileEntry
from flowpack.cas.manifestview import ManifestView
from flowpack.cas.reader import ChunkReader

MAX_DEPTH = 32
SKIP_DEPTH = MAX_DEPTH // 2
MAX_WALK = 2 * MAX_DEPTH
MAX_BASES_PER_CHUNK = 4
#: Shallower alternatives offered for a chunk's bases (see :meth:`BaseFinder.choices`).
MAX_FALLBACKS = 3


class BaseFinder:
    """Base chunks for the new chunks of one push.  Not thread-safe (one per push)."""

    def __init__(
        self,
        parent: Digest | None,
        index: Index,
        reader: ChunkReader,
        load: Callable[[Digest], ManifestView],
        find_parent: Callable[[], Digest | None] | None = None,
    ) -> None:
        """``find_parent``, when ``parent`` is None: called once, when a base is first
        needed, for a parent found otherwise (by content: :mod:`flowpack.cas.similar`)."""
        self._find_parent = find_parent if parent is None else None
        self._index = index
        self._reader = reader
        self._load = load
        self._digests: list[Digest] = [parent] if parent is not None and parent in index else []
        self._versions: list[ManifestView] = []
        self._by_name: dict[str, list[str]] | None = None

    def manifest_bases(self) -> list[Digest]:
        """The earlier manifest a new manifest should be compressed against."""
        for k in range(MAX_WALK):
            d = self._digest(k)
            if d is None:
                return []
            if self._depth(d) < (MAX_DEPTH if k == 0 else SKIP_DEPTH):
                return [d]
        return []

    def choices(self, path: str, off: int, n: int) -> list[list[Digest]]:
        """Bases for bytes ``off..off+n`` of ``path``, best first: the overlapping chunks of
        the nearest earlier version within the depth bound, then up to :data:`MAX_FALLBACKS`
        shallower alternatives (the same range at older versions, each strictly shallower than
        the one before, ending at a key frame: depth 0) for a writer whose working set the
        first cannot fit."""
        out: list[list[Digest]] = []
        deepest = MAX_DEPTH
        for k in range(MAX_WALK):
            files = self._version(k)
            if files is None:
                break
            entry = files.get(path) or (self._moved(path) if k == 0 else None)
            if entry is None:
                break
            bases = overlap(entry, off, n)
            depth = max((self._depth(b) for b in bases), default=0)
            if bases and depth < (deepest if out or k == 0 else SKIP_DEPTH):
                out.append(bases)
                deepest = depth
                if depth == 0 or len(out) > MAX_FALLBACKS:
                    break
            elif not bases and not out:
                break
            path = entry.path
        return out

    def _depth(self, d: Digest) -> int:
        loc = self._index.get(d)
        return loc.depth if loc is not None else MAX_DEPTH

    def _digest(self, k: int) -> Digest | None:
        if self._find_parent is not None:
            found, self._find_parent = self._find_parent(), None
            if found is not None and found in self._index:
                self._digests = [found]
        while len(self._digests) <= k:
            if not self._digests:
                return None
            try:
                older = [b for b in self._reader.bases_of(self._digests[-1]) if b in self._index]
            except FlowpackError:
                older = []
            if len(older) != 1:
                return None
            self._digests.append(older[0])
        return self._digests[k]

    def _version(self, k: int) -> ManifestView | None:
        while len(self._versions) <= k:
            d = self._digest(len(self._versions))
            if d is None:
                return None
            try:
                files = self._load(d)
            except FlowpackError:
                return None
            self._versions.append(files)
        return self._versions[k]

    def _moved(self, path: str) -> FileEntry | None:
        """The parent's file with the same name and the longest common path suffix."""
        parent = self._version(0)
        if parent is None:
            return None
        if self._by_name is None:
            self._by_name = {}
            for p in parent.paths():
                self._by_name.setdefault(PurePosixPath(p).name, []).append(p)
        candidates = self._by_name.get(PurePosixPath(path).name, [])
        if not candidates:
            return None
        parts = PurePosixPath(path).parts
        best = max(candidates, key=lambda p: (_common_suffix(parts, PurePosixPath(p).parts), p))
        return parent.get(best)


def overlap(base: FileEntry, off: int, n: int) -> list[Digest]:
    """The chunks of ``base`` that overlap bytes ``off - n/2 .. off + n + n/2``."""
    out: list[Digest] = []
    pos = 0
    lo, hi = off - n // 2, off + n + n // 2
    for c in base.chunks:
        if pos < hi and pos + c.size > lo:
            out.append(c)
        pos += c.size
        if pos >= hi or len(out) >= MAX_BASES_PER_CHUNK:
            break
    return out


def _common_suffix(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n
