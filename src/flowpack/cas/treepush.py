"""Packing a scanned tree: each folder's files from the files cache or from disk, then the
manifest assembled from the files' encoded entries.

A folder whose listing and stats equal its :class:`~flowpack.cas.filescache.FolderRecord`
(and whose chunks the store still holds) adds the record's entries to the manifest as one
byte string; in any other folder each file is taken from the record if its own stat matches
and its chunks are held, else read, cut and queued on the writer like any file
(:func:`flowpack.cas.push.add_file`).  The manifest bytes are those
:meth:`flowpack.cas.manifest.Manifest.encode` gives for the same files
(:func:`flowpack.cas.manifest.encode_from_entries`).
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from flowpack.cas.content import Progress, PushResult
from flowpack.cas.digest import Digest
from flowpack.cas.filescache import FolderRecord, TreeCache
from flowpack.cas.ignore import IgnoreRules
from flowpack.cas.manifest import BUNDLE, encode_entry, encode_from_entries
from flowpack.cas.push import Packed, PushCaches, add_file, queue_manifest
from flowpack.cas.pushsession import begin_push, push_with
from flowpack.cas.tree import is_tree, scan_tree, source_file
from flowpack.cas.treescan import STAT, Folder, scan_folders

if TYPE_CHECKING:
    from flowpack.cas.bases import BaseFinder
    from flowpack.cas.chunker import Chunker
    from flowpack.cas.store import Store
    from flowpack.cas.writer import Writer

#: ``stamp_holds(stamp)``: whether a record's stamp still vouches for its chunks.
StampCheck = Callable[[int], bool]


def put_tree(
    store: Store,
    root: Path,
    metadata: Mapping[str, Any] | None,
    parent: Digest | None,
    progress: Progress | None,
    default_ignores: bool,
) -> PushResult:
    """:meth:`Store.put_tree <flowpack.cas.store.Store.put_tree>`: scan ``root`` against the
    files cache, pack what changed, and assemble the manifest from encoded entries."""
    rules = IgnoreRules.for_root(root, default_ignores=default_ignores)
    if not is_tree(root):
        files = scan_tree(root, rules)
        result = store.put_files(files, metadata=metadata, parent=parent, progress=progress)
        return dataclasses.replace(result, ignored=rules.ignored)
    begin_push(store)
    caches = PushCaches(store.store_cache())
    tree = caches.files.tree(os.path.abspath(root), rules.key)
    folders = scan_folders(str(root), rules, tree.remembered)

    def paths() -> Iterator[str]:
        return (p for f in folders for p in f.files())

    def pack(writer: Writer, bases: BaseFinder) -> Packed:
        from flowpack.cas.chunker import Chunker

        index = store.index
        packer = TreePacker(
            writer,
            tree,
            chunker=Chunker(store.config.chunker),
            bases=bases,
            stamp_holds=tree.stamp_check(index.files, index.condemned),
            progress=progress,
        )
        packer.pack(folders)
        pieces = encode_from_entries(BUNDLE, packer.files, packer.entries, (), metadata)
        return queue_manifest(writer, pieces, bases, packer.files, packer.size, packer.chunks)

    result = push_with(store, pack, caches, BUNDLE, parent, paths, progress, tree)
    return dataclasses.replace(result, ignored=rules.ignored)


class TreePacker:
    """Packs one scanned tree on one writer.  Not thread-safe (one per push)."""

    def __init__(
        self,
        writer: Writer,
        cache: TreeCache,
        *,
        chunker: Chunker,
        bases: BaseFinder,
        stamp_holds: StampCheck,
        progress: Progress | None = None,
    ) -> None:
        self.writer = writer
        self.cache = cache
        self.chunker = chunker
        self.bases = bases
        self.stamp_holds = stamp_holds
        self.progress = progress
        self.entries: list[bytes | memoryview] = []
        self.files = self.size = self.chunks = 0
        self._total = 0

    def pack(self, folders: Sequence[Folder]) -> None:
        """Add every file of ``folders`` (a whole scan, in order) to :attr:`entries`."""
        if self.progress:
            self._total = sum(s[0] for f in folders for s in STAT.iter_unpack(f.stats))
        i = 0
        while i < len(folders):
            i = self._folder(folders, i)

    def _folder(self, folders: Sequence[Folder], i: int) -> int:
        """Pack folder ``i`` and the folders under it; the index of the next one."""
        f = folders[i]
        rec = self.cache.old.get(f.rel)
        if not (rec and _same(rec, f) and self._held(rec)):
            rec = self._refresh(f, rec)
        self.cache.keep(f.rel, rec)
        self.files += rec.count
        self.size += rec.size
        self.chunks += rec.chunks
        j = i + 1
        if not f.has_subfolders:
            self._emit(rec, 0, rec.count)
        else:
            start = k = 0
            for key in f.entry_keys():
                if key.endswith("/"):
                    self._emit(rec, start, k)
                    start = k
                    j = self._folder(folders, j)
                else:
                    k += 1
            self._emit(rec, start, k)
        if self.progress:
            self.progress("pack", self.size, max(self._total, self.size))
        return j

    def _emit(self, rec: FolderRecord, i: int, j: int) -> None:
        if j > i:
            self.entries.append(rec.span(i, j))

    def _held(self, rec: FolderRecord) -> bool:
        """Whether the store holds every chunk of ``rec``'s files."""
        if self.stamp_holds(rec.stamp):
            return True
        return all(self._chunks_held(rec.entry(i)) for i in range(rec.count))

    def _chunks_held(self, entry: bytes | memoryview) -> bool:
        return all(self.writer.has(c) for c in _chunks(entry))

    def _refresh(self, f: Folder, rec: FolderRecord | None) -> FolderRecord:
        """The record of folder ``f`` now: each file reused from ``rec`` when its stat matches
        and its chunks are held, else read."""
        names = [k for k in f.entry_keys() if not k.endswith("/")]
        if rec is None:
            old: dict[str, int] = {}
        elif rec.listing == f.listing and rec.ignored == f.ignored:
            old = {name: k for k, name in enumerate(names)}
        else:
            old = {name: k for k, name in enumerate(rec.file_names())}
        trust = rec is not None and self.stamp_holds(rec.stamp)
        entries: list[bytes | memoryview] = []
        chunks = size = 0
        prefix = f"{f.rel}/" if f.rel else ""
        for k, name in enumerate(names):
            st = f.stats[k * STAT.size : (k + 1) * STAT.size]
            o = old.get(name)
            entry = None
            if rec is not None and o is not None and rec.stats[o * STAT.size :][: STAT.size] == st:
                entry = rec.entry(o)
                if not trust and not self._chunks_held(entry):
                    entry = None
            if entry is None:
                sf = source_file(Path(f.path, name), prefix + name)
                fe = add_file(self.writer, self.chunker, sf, self.bases)
                entry = encode_entry(fe)
                if self.progress:
                    self.progress("pack", self.size + size, max(self._total, self.size + size))
            n_chunks, n_bytes = _counts(entry)
            chunks += n_chunks
            size += n_bytes
            entries.append(entry)
        offsets = list(accumulate((len(e) for e in entries), initial=0))
        return FolderRecord(
            f.listing,
            f.ignored,
            self.cache.spoil_racy(f.stats),
            b"".join(entries),
            struct.pack(f"<{len(offsets)}I", *offsets),
            chunks,
            size,
        )


def _same(rec: FolderRecord, f: Folder) -> bool:
    """Whether folder ``f`` lists and keeps the same entries as ``rec``, with the same stats."""
    return rec.listing == f.listing and rec.ignored == f.ignored and rec.stats == f.stats


def _decode(entry: bytes | memoryview) -> list[Any]:
    item = msgpack.unpackb(entry, raw=False)
    if not isinstance(item, list) or len(item) != 5:
        raise ValueError("not a manifest entry")
    return item


def _chunks(entry: bytes | memoryview) -> list[Digest]:
    """The chunks of an encoded entry (a single-chunk file's chunk is its own digest)."""
    _, _, size, raw, chunks = _decode(entry)
    if chunks:
        return [Digest.from_raw(r, s) for r, s in chunks]
    return [Digest.from_raw(raw, size)] if size else []


def _counts(entry: bytes | memoryview) -> tuple[int, int]:
    """How many chunks and bytes an encoded entry holds."""
    _, _, size, _, chunks = _decode(entry)
    return (len(chunks) if chunks else (1 if size else 0)), int(size)
