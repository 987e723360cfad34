"""The write path of a push: files cut into chunks, queued with their manifest on a writer.

:class:`flowpack.cas.store.Store` drives it (``put_files``, ``batch``); this module knows
nothing of the store beyond the :class:`~flowpack.cas.writer.Writer` and the
:class:`~flowpack.cas.bases.BaseFinder` it is handed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from flowpack.cas.content import Progress, PushResult
from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError
from flowpack.cas.filescache import FilesCache, Stamp, TreeCache
from flowpack.cas.manifest import MODE_SYMLINK, FileEntry, ManifestBuilder
from flowpack.cas.pack import DATA, MANIFEST
from flowpack.cas.similar import Sketches
from flowpack.cas.tree import SourceFile

if TYPE_CHECKING:  # the writer (and its thread pools) is imported by the commands that write
    from flowpack.cas.bases import BaseFinder
    from flowpack.cas.chunker import Chunker, ChunkerParams
    from flowpack.cas.writer import Writer, WriteStats


@dataclass(frozen=True)
class Packed:
    """A manifest queued on a writer: its bytes (None when it was held already), its digest,
    and how many files, bytes and chunks it lists."""

    data: bytes | None
    digest: Digest
    files: int
    size: int
    chunks: int

    def result(self, stats: WriteStats) -> PushResult:
        """What the push stored (this manifest) and what its write session cost."""
        return PushResult(
            self.digest,
            self.size,
            self.files,
            self.chunks,
            stats.new_chunks,
            stats.bytes_uploaded,
            stats.packs_uploaded,
        )


class PushCaches:
    """The local caches a push reads and feeds (in the store's cache folder, or none): the
    files cache (unchanged files cost a stat) and the sketches that find a parent by content."""

    def __init__(self, root: Path | None) -> None:
        self.files = FilesCache(root)
        self.sketches = Sketches(root)

    def pushed(
        self,
        packed: Packed,
        paths: Callable[[], Iterable[str]],
        *,
        remember: bool,
        tree: TreeCache | None = None,
        stamp: Stamp | None = None,
    ) -> None:
        """After the push's manifest is queued: save the files cache of ``tree`` (its chunks
        held under ``stamp``, None while the write session is still open), and with
        ``remember`` the bundle's ``paths`` for later pushes without a parent."""
        if tree is not None:
            self.files.save(tree, stamp)
        if remember:
            self.sketches.remember(packed.digest, paths)


def pack_files(
    writer: Writer,
    files: Sequence[SourceFile],
    params: ChunkerParams,
    bases: BaseFinder,
    kind: str,
    metadata: Mapping[str, Any] | None,
    links: Sequence[Digest],
    progress: Progress | None,
) -> Packed:
    """Queue the new chunks of ``files`` on ``writer`` (cut with ``params``), then their
    manifest (in a frame alone).

    Raises :class:`FlowpackError` naming a source file that cannot be read.
    """
    from flowpack.cas.chunker import Chunker

    chunker = Chunker(params)
    builder = ManifestBuilder(kind)
    n_chunks = 0
    total = sum(sf.stat.st_size for sf in files if sf.stat is not None) if progress else 0
    done = 0
    for sf in files:
        entry = add_file(writer, chunker, sf, bases)
        builder.add_file(entry)
        n_chunks += len(entry.chunks)
        if progress:  # in bytes of the files read (an honest ETA from the first file)
            done += entry.size
            progress("pack", done, max(total, done))
    for link in links:
        builder.add_link(link)
    builder.metadata.update(metadata or {})
    manifest = builder.build()
    data = manifest.encode()
    return queue_manifest(writer, [data], bases, len(manifest.files), manifest.size, n_chunks)


def queue_manifest(
    writer: Writer,
    pieces: Sequence[bytes | memoryview],
    bases: BaseFinder,
    files: int,
    size: int,
    chunks: int,
) -> Packed:
    """Queue the manifest whose bytes are ``pieces`` joined on ``writer`` (in a frame alone,
    after the data frames).  The pieces are joined only if the manifest is new: a
    :attr:`Packed.data` of None means the store (or the session) already holds it."""
    whole = blake3.blake3()
    for p in pieces:
        whole.update(p)
    digest = Digest(whole.hexdigest(), sum(len(p) for p in pieces))
    writer.seal(DATA)
    data = None
    if not writer.has(digest):  # bases are looked up only for a new manifest
        data = b"".join(pieces)
        writer.add(digest, data, kind=MANIFEST, bases=bases.manifest_bases())
    writer.seal(MANIFEST)
    return Packed(data, digest, files, size, chunks)


def add_file(writer: Writer, chunker: Chunker, sf: SourceFile, bases: BaseFinder) -> FileEntry:
    """Cut ``sf`` into chunks (streamed from disk where it has a source), queue the new ones.

    Raises :class:`FlowpackError` naming a source file that cannot be read.
    """
    if sf.source is not None and sf.mode != MODE_SYMLINK:
        try:
            with open(sf.source, "rb") as fh:
                return _add_chunks(writer, sf, bases, chunker.cut_stream(fh))
        except OSError as exc:
            raise FlowpackError(f"cannot read {sf.source}: {exc.strerror or exc}") from exc
    view = memoryview(sf.read())
    pieces = ((off, view[off : off + n]) for off, n in chunker.cut(view))
    return _add_chunks(writer, sf, bases, pieces)


def _add_chunks(
    writer: Writer,
    sf: SourceFile,
    bases: BaseFinder,
    pieces: Iterable[tuple[int, memoryview]],
) -> FileEntry:
    whole = blake3.blake3()
    chunks: list[Digest] = []
    size = 0
    for off, piece in pieces:
        whole.update(piece)
        size += len(piece)
        cd = Digest.of(piece)
        chunks.append(cd)
        if not writer.has(cd):
            first, *fallbacks = bases.choices(sf.path, off, len(piece)) or [[]]
            writer.add(cd, bytes(piece), bases=first, fallbacks=fallbacks)
    return FileEntry(sf.path, sf.mode, size, Digest(whole.hexdigest(), size), tuple(chunks))
