"""The files cache: an unchanged file costs a stat, an unchanged folder one comparison.

As git's index and borg's files cache do, a push of a directory remembers, for each folder of
the tree, a :class:`FolderRecord`: its listing (every entry's name), which entries the ignore
rules left out, each kept file's ``lstat`` (size, mtime_ns, inode, ctime_ns, mode:
:data:`flowpack.cas.treescan.STAT`) and the file's encoded manifest entry (path, mode, size,
hash, chunks).  The next push of the same tree (same absolute path, same ignore patterns)
compares each folder's listing and stats with the record as two byte strings: a folder whose
entries all match contributes its remembered entries to the manifest as they are, without
opening a file or building an object per file; in a folder that differs, each file whose
stat matches reuses its entry and the others are read.  Any change to a file's content, size,
mode or inode, a new, deleted or renamed file or folder, is a different listing or stat.

Safety:

* Racy git: a file whose mtime or ctime is within :data:`RACY_NS` of the start of the scan
  that stat'ed it could change again without its stat moving, so its stat is saved spoiled
  (it never matches) and the file is read again next time.
* Held chunks: an entry is reused only while the store holds its chunks.  Each record carries
  the *stamp* under which that was last true: the names of the live index files and the
  condemned packs when it was saved.  While every one of those index files is still live and
  no pack has been condemned since, every chunk held then is held now (index files are
  create-only, and gc deletes nothing it has not condemned and dropped from the live index);
  otherwise the record's chunks are looked up one by one.
* It is a hint: a damaged file (its trailing blake3 disagrees) or another version is ignored,
  writes are atomic (temporary file, then rename), and two pushes at once keep the last one's.

File (``files.bin`` in the store's folder of the local cache): :data:`MAGIC`, a u32 header
length, a msgpack header (stamps, and per tree its records with their byte strings as
``[offset, length]`` into the area that follows), that area, and a blake3 of all before it.
Byte strings are read as views of the loaded file, so loading copies nothing per folder.
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import blake3
import msgpack

from flowpack.cas.index import Index
from flowpack.cas.treescan import STAT

MAGIC = b"flowpack-files\x00\x02"
#: Files kept at most, over every tree (the tree pushed last first).
MAX_FILES = 200_000
#: Trees kept at most: the one pushed last and the ones pushed before it, most recent first.
#: Loading the cache decodes every tree's folder records, so a machine that pushes many
#: different trees (a folder per release, as the benchmarks' corpora are) would otherwise pay
#: memory and time for all of them at every push (borg bounds its files cache by age likewise).
MAX_TREES = 4
#: A file changed this close to the scan is not trusted next time (two seconds: filesystems
#: with one- or two-second timestamps).
RACY_NS = 2_000_000_000
#: A stamp number meaning "not verified": the record's chunks are looked up before reuse.
UNVERIFIED = -1
_U32 = struct.Struct("<I")
_OLD_NAME = "files.msgpack"  # the per-file cache of earlier versions: removed on first save
_SPOILED = STAT.pack(-1, 0, 0, 0, 0)[:8]  # a size no file has


@dataclass(frozen=True)
class FolderRecord:
    """What the files cache remembers of one folder (see the module docstring)."""

    listing: str
    ignored: tuple[int, ...]
    stats: bytes | memoryview
    #: The kept files' encoded manifest entries, in order, and where each starts (n + 1
    #: little-endian u32 offsets).
    entries: bytes | memoryview
    offsets: bytes | memoryview
    #: How many chunks and bytes the files hold in all.
    chunks: int
    size: int
    stamp: int = UNVERIFIED

    @property
    def count(self) -> int:
        """How many files the record holds."""
        return len(self.stats) // STAT.size

    def file_names(self) -> list[str]:
        """The kept files' names, in order."""
        skip = set(self.ignored)
        keys = self.listing.split("\0") if self.listing else []
        return [k for i, k in enumerate(keys) if i not in skip and not k.endswith("/")]

    def entry(self, i: int) -> bytes | memoryview:
        """File ``i``'s encoded entry."""
        start, end = struct.unpack_from("<II", self.offsets, 4 * i)
        return self.entries[start:end]

    def span(self, i: int, j: int) -> bytes | memoryview:
        """Files ``i`` to ``j - 1``'s encoded entries, as one byte string."""
        if i == 0 and 4 * (j + 1) == len(self.offsets):
            return self.entries
        (start,) = _U32.unpack_from(self.offsets, 4 * i)
        (end,) = _U32.unpack_from(self.offsets, 4 * j)
        return self.entries[start:end]


@dataclass(frozen=True)
class Stamp:
    """The index as a record's chunks were last found held in it."""

    live: frozenset[str]
    condemned: frozenset[str]

    @classmethod
    def of(cls, index: Index, written: Iterable[str]) -> Stamp:
        """The stamp of ``index`` plus the index files ``written`` since its last sync."""
        return cls(frozenset(index.files) | frozenset(written), index.condemned)

    def holds(self, live: set[str] | frozenset[str], condemned: frozenset[str]) -> bool:
        """Whether every chunk held under this stamp is held under ``live``/``condemned``."""
        return self.live <= live and condemned <= self.condemned


@dataclass
class TreeCache:
    """One push's view of the records of one tree.  Not thread-safe (one per push)."""

    key: str
    #: The ignore patterns in force (:attr:`IgnoreRules.key`); remembered decisions are
    #: reused only under the patterns that made them.
    rules: str
    old: dict[str, FolderRecord]
    stamps: list[Stamp]
    rules_then: str = ""
    new: dict[str, FolderRecord] = field(default_factory=dict)
    #: Whether anything differs from what was loaded (else saving writes nothing).
    changed: bool = False
    #: When the scan began: files changed after ``started - RACY_NS`` are spoiled.
    started: int = field(default_factory=time.time_ns)

    def remembered(self, rel: str) -> tuple[str, tuple[int, ...]] | None:
        """The listing and ignored positions remembered for folder ``rel``."""
        rec = self.old.get(rel)
        if rec is None or self.rules != self.rules_then:
            return None
        return rec.listing, rec.ignored

    def stamp_check(
        self, live: set[str] | frozenset[str], condemned: frozenset[str]
    ) -> Callable[[int], bool]:
        """``holds(stamp)``: whether a record's stamp still vouches for its chunks, the index
        now listing index files ``live`` and packs ``condemned``."""
        memo: dict[int, bool] = {}

        def holds(stamp: int) -> bool:
            if stamp not in memo:
                ok = 0 <= stamp < len(self.stamps) and self.stamps[stamp].holds(live, condemned)
                memo[stamp] = ok
            return memo[stamp]

        return holds

    def keep(self, rel: str, rec: FolderRecord) -> None:
        """Remember ``rec`` for folder ``rel`` (as loaded, or new)."""
        self.new[rel] = rec
        if self.old.get(rel) is not rec:
            self.changed = True

    def spoil_racy(self, stats: bytes) -> bytes:
        """``stats`` with the records of files changed too recently to trust spoiled."""
        racy = (self.started // 1_000_000_000) * 1_000_000_000 - RACY_NS
        out = bytearray(stats)
        for k, (_, mtime, _, ctime, _) in enumerate(STAT.iter_unpack(stats)):
            if mtime >= racy or ctime >= racy:
                out[k * STAT.size : k * STAT.size + 8] = _SPOILED
        return bytes(out)


class FilesCache:
    """The files cache of one store (``root`` None: nothing is remembered)."""

    def __init__(self, root: Path | None) -> None:
        self.path = root / "files.bin" if root is not None else None
        self._data = b""
        self._stamps: list[Stamp] = []
        self._trees: list[tuple[str, str, list[Any]]] = []
        self._load()

    def _load(self) -> None:
        if self.path is None:
            return
        try:
            data = self.path.read_bytes()
        except OSError:
            return
        n = len(MAGIC) + 4
        if len(data) < n + 32 or not data.startswith(MAGIC):
            return
        if blake3.blake3(memoryview(data)[:-32]).digest() != data[-32:]:
            return  # damaged: ignored
        (size,) = _U32.unpack_from(data, len(MAGIC))
        try:
            head = msgpack.unpackb(data[n : n + size], raw=False)
            self._stamps = [Stamp(frozenset(a), frozenset(b)) for a, b in head["stamps"]]
            self._trees = [(str(k), str(r), list(recs)) for k, r, recs in head["trees"]]
        except (ValueError, TypeError, KeyError, msgpack.UnpackException):
            self._stamps, self._trees = [], []
            return
        self._data = data
        self._area = memoryview(data)[n + size : -32]

    def tree(self, key: str, rules: str) -> TreeCache:
        """The records of the tree ``key`` (its absolute path), pushed with ignore ``rules``."""
        for k, then, recs in self._trees:
            if k == key:
                try:
                    old = {str(r[0]): self._record(r) for r in recs}
                except (ValueError, TypeError, IndexError, UnicodeDecodeError):
                    break
                return TreeCache(key, rules, old, self._stamps, rules_then=then)
        return TreeCache(key, rules, {}, self._stamps)

    def _record(self, r: list[Any]) -> FolderRecord:
        _, listing, ignored, stats, entries, offsets, chunks, size, stamp = r
        rec = FolderRecord(
            bytes(self._slice(listing)).decode("utf-8"),
            tuple(int(i) for i in ignored),
            self._slice(stats),
            self._slice(entries),
            self._slice(offsets),
            int(chunks),
            int(size),
            int(stamp) if 0 <= int(stamp) < len(self._stamps) else UNVERIFIED,
        )
        if len(rec.stats) % STAT.size or len(rec.offsets) != 4 * (rec.count + 1):
            raise ValueError("inconsistent record")
        return rec

    def _slice(self, ref: list[int]) -> memoryview:
        off, n = int(ref[0]), int(ref[1])
        if off < 0 or n < 0 or off + n > len(self._area):
            raise ValueError("reference outside the file")
        return self._area[off : off + n]

    def save(self, tree: TreeCache, stamp: Stamp | None) -> None:
        """Write ``tree``'s records first, then other trees' (best effort).  ``stamp``: the
        index under which every chunk of ``tree`` is now held (None: not known yet, as in an
        open batch; the records are then saved unverified)."""
        unchanged = not tree.changed and tree.rules == tree.rules_then
        if self.path is None or (unchanged and self._stamped(tree, stamp)):
            return
        stamps = [stamp] if stamp is not None else []
        mine = {rel: _stamped(rec, 0 if stamp else UNVERIFIED) for rel, rec in tree.new.items()}
        blobs = _Blobs()
        rows = [blobs.row(rel, rec) for rel, rec in mine.items()]
        trees: list[list[Any]] = [[tree.key, tree.rules, rows]]
        budget = MAX_FILES - sum(r.count for r in mine.values())
        others = [t for t in self._trees if t[0] != tree.key][: MAX_TREES - 1]
        for key, rules, recs in others:
            if budget > 0:
                trees.append([key, rules, self._carried(recs, stamps, blobs)])
                budget -= sum(int(r[3][1]) // STAT.size for r in recs)
        head = msgpack.packb(
            {"stamps": [[sorted(s.live), sorted(s.condemned)] for s in stamps], "trees": trees},
            use_bin_type=True,
        )
        _write(self.path, [MAGIC, _U32.pack(len(head)), head, *blobs.pieces])
        with contextlib.suppress(OSError):
            self.path.with_name(_OLD_NAME).unlink(missing_ok=True)

    def _stamped(self, tree: TreeCache, stamp: Stamp | None) -> bool:
        """Whether every record of ``tree`` already carries ``stamp``."""
        return stamp is not None and all(
            rec.stamp != UNVERIFIED and self._stamps[rec.stamp] == stamp
            for rec in tree.new.values()
        )

    def _carried(self, recs: list[Any], stamps: list[Stamp], blobs: _Blobs) -> list[Any]:
        """Another tree's records as they were, renumbering their stamps into ``stamps``."""
        rows = []
        for r in recs:
            try:
                rec = self._record(r)
            except (ValueError, TypeError, IndexError, UnicodeDecodeError):
                continue
            if rec.stamp != UNVERIFIED:
                old = self._stamps[rec.stamp]
                if old not in stamps:
                    stamps.append(old)
                rec = _stamped(rec, stamps.index(old))
            rows.append(blobs.row(str(r[0]), rec))
        return rows


def _stamped(rec: FolderRecord, stamp: int) -> FolderRecord:
    return rec if rec.stamp == stamp else replace(rec, stamp=stamp)


class _Blobs:
    """The byte strings of the records being written, and where each lies."""

    def __init__(self) -> None:
        self.pieces: list[bytes | memoryview] = []
        self.size = 0

    def ref(self, b: bytes | memoryview) -> list[int]:
        self.pieces.append(b)
        self.size += len(b)
        return [self.size - len(b), len(b)]

    def row(self, rel: str, rec: FolderRecord) -> list[Any]:
        return [
            rel,
            self.ref(rec.listing.encode("utf-8")),
            list(rec.ignored),
            self.ref(rec.stats),
            self.ref(rec.entries),
            self.ref(rec.offsets),
            rec.chunks,
            rec.size,
            rec.stamp,
        ]


def _write(path: Path, pieces: Iterable[bytes | memoryview]) -> None:
    """Write ``pieces`` and their blake3 to ``path`` atomically; errors are ignored."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        h = blake3.blake3()
        with open(tmp, "wb") as fh:
            for p in pieces:
                h.update(p)
                fh.write(p)
            fh.write(h.digest())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
