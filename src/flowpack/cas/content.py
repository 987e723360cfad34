"""`Content`: what the whole-store operations need of a store, and the values they share.

gc, verify, transfer (export, import), copying, restore, stats and reachability work on a
:class:`Content` rather than on :class:`flowpack.cas.store.Store`, which satisfies it; so the
store depends on none of them and they reach into nothing of it beyond this protocol:

* the raw :class:`~flowpack.cas.protocols.BlobStore` (gc lists and deletes packs, verify reads
  index files and packs without trusting the store's own index) and the :class:`Refs`;
* the synced index, read through :meth:`Content.locate`, :meth:`Content.indexed_packs`,
  :meth:`Content.indexed_objects`, :attr:`Content.index_files`, :attr:`Content.live_index_files`
  and :attr:`Content.condemned_packs`, brought up to date by :meth:`Content.sync`;
* verified reads (:meth:`Content.has`, :meth:`Content.get_bytes`, :meth:`Content.get_manifest`,
  :meth:`Content.prefetch`) and write sessions (:meth:`Content.writing`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from flowpack.cas.config import StoreConfig
from flowpack.cas.digest import Digest
from flowpack.cas.index import IndexFile, PackEntry
from flowpack.cas.index import Location as ChunkLocation
from flowpack.cas.manifest import Manifest
from flowpack.cas.protocols import BlobStore
from flowpack.cas.refs import Refs

if TYPE_CHECKING:  # the writer is imported by the commands that write
    from pathlib import Path

    from flowpack.cas.spill import FrameSpill
    from flowpack.cas.writer import Writer

__all__ = ["ChunkLocation", "Content", "Progress", "PushResult"]

#: ``progress(stage, done, total)``; total is 0 when unknown.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PushResult:
    """What a push stored and what it cost."""

    digest: Digest
    size: int
    files: int
    chunks: int
    new_chunks: int
    bytes_uploaded: int
    packs_uploaded: int
    #: Files the push left out (default ignores and ``.flowpackignore``).
    ignored: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "digest": str(self.digest),
            "size": self.size,
            "files": self.files,
            "chunks": self.chunks,
            "new_chunks": self.new_chunks,
            "bytes_uploaded": self.bytes_uploaded,
            "packs_uploaded": self.packs_uploaded,
            "ignored": self.ignored,
        }


class Content(Protocol):
    """A store's content as the whole-store operations see it.  Thread-safe where Store is."""

    @property
    def url(self) -> str:
        """The store's URL, redacted (safe to print)."""
        ...

    @property
    def blobs(self) -> BlobStore:
        """The blob store the content lives in (``config``, ``packs/``, ``index/``, ``gc/``)."""
        ...

    @property
    def refs(self) -> Refs:
        """The store's refs."""
        ...

    @property
    def level(self) -> int:
        """The zstd level new frames are compressed at."""
        ...

    @property
    def config(self) -> StoreConfig:
        """The store's config, created on first use."""
        ...

    @property
    def initialized(self) -> bool:
        """Whether the store has a config yet."""
        ...

    def sync(self, *, force: bool = False) -> None:
        """Bring the index up to date with the index files the store lists."""
        ...

    @property
    def index_files(self) -> dict[str, IndexFile]:
        """Every index file the last sync found, by hex name, superseded ones included."""
        ...

    @property
    def live_index_files(self) -> set[str]:
        """The names of the index files the index is built from (none superseded)."""
        ...

    @property
    def condemned_packs(self) -> frozenset[str]:
        """Hexes of the packs gc has condemned."""
        ...

    def locate(self, digest: Digest) -> ChunkLocation | None:
        """Where the index puts ``digest`` (its pack, frame and kind), or None."""
        ...

    def indexed_packs(self) -> list[PackEntry]:
        """Every pack the index lists."""
        ...

    def indexed_objects(self) -> Iterator[tuple[Digest, ChunkLocation]]:
        """Every object the index lists, with where it lies."""
        ...

    def has(self, digest: Digest) -> bool:
        """Whether the store can read ``digest`` (syncing once if the index lacks it)."""
        ...

    def missing(self, digests: Iterable[Digest]) -> list[Digest]:
        """Those of ``digests`` a writer must send."""
        ...

    def prefetch(self, digests: Iterable[Digest]) -> None:
        """Fetch the frames ``digests`` live in with few coalesced reads."""
        ...

    def planned(
        self,
        digests: Iterable[Digest],
        spill: Path | FrameSpill | None = None,
        progress: Progress | None = None,
    ) -> AbstractContextManager[None]:
        """A block within which ``digests`` are about to be read (frames evicted meanwhile
        kept in the directory ``spill``)."""
        ...

    def get_bytes(self, digest: Digest) -> bytes:
        """The verified bytes of ``digest``; :class:`NotFound` if absent."""
        ...

    def get_manifest(self, digest: Digest, *, cached: bool = False) -> Manifest:
        """The decoded, verified manifest ``digest`` names."""
        ...

    def writing(self, *, join_batch: bool = True) -> AbstractContextManager[Writer]:
        """A write session whose packs and index file are stored when the block ends."""
        ...
