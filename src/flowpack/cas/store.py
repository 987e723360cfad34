"""`Store`: a blob adapter, a ref adapter, and the core logic (packing, index, verification).

Thread-safe: any number of threads may call a Store at once; pushes from many processes or
machines to one backend are safe, since packs and index files are content-addressed and
create-only and the ref compare-and-set is the only commit point.  An open :meth:`Store.batch`
belongs to the thread that opened it.

A Store satisfies :class:`flowpack.cas.content.Content`; the whole-store operations take one
and live in their own modules, which this one does not import: :func:`flowpack.cas.verify.verify`,
:func:`flowpack.cas.gc.collect`, :func:`flowpack.cas.stats.store_stats`,
:func:`flowpack.cas.restore.restore_tree`, :func:`flowpack.cas.transfer.export_bundle` and
:func:`~flowpack.cas.transfer.import_bundle`.  A location's capabilities are obeyed as
:mod:`flowpack.cas.guards` describes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowpack.cas.batches import Batches
from flowpack.cas.condemned import Notices, load_notices
from flowpack.cas.config import StoreConfig, load_config
from flowpack.cas.content import ChunkLocation, Progress, PushResult
from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    NotFound,
)
from flowpack.cas.guards import refuse_write
from flowpack.cas.index import Index, IndexFile, PackEntry
from flowpack.cas.location import Location
from flowpack.cas.manifest import (
    BUNDLE,
    FileEntry,
    Manifest,
    decode_manifest,
)
from flowpack.cas.naming import resolve_name
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.reader import ChunkReader
from flowpack.cas.refs import Refs
from flowpack.cas.storeconfig import BelievedConfig
from flowpack.cas.streaming import iter_file

if TYPE_CHECKING:  # imported where a write begins: read-only commands start faster
    from flowpack.cas.chunker import ChunkerParams
    from flowpack.cas.spill import FrameSpill
    from flowpack.cas.tree import SourceFile
    from flowpack.cas.writer import Writer, WriteStats

__all__ = ["Progress", "PushResult", "Store"]


class Store:
    """A content-addressed store over one :class:`BlobStore` and one :class:`RefStore`."""

    def __init__(
        self,
        blobs: BlobStore,
        refs: RefStore,
        *,
        url: str = "",
        cache_dir: Path | None = None,
        chunker: ChunkerParams | None = None,
        level: int = 9,
        workers: int | None = None,
        sync_once: bool = False,
        cache_key: str | None = None,
    ) -> None:
        self.blobs = blobs
        self.refs = Refs(refs, where=url)
        self.url = url
        self.level = level
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._cache_root = cache_dir
        self._lock = threading.RLock()
        self.index = Index()
        self._index_files: dict[str, IndexFile] = {}
        self._notices: Notices | None = None
        self._vanished: frozenset[str] = frozenset()  # listed packs found deleted
        self.sync_once = sync_once
        #: The calling thread's open batch, and the config and objects believed from the local
        #: cache: the cas layer's own (:mod:`flowpack.cas.pushsession`), not for callers.
        self.batches = Batches()
        self._synced = False
        self.reader = ChunkReader(blobs, self.index)
        durable = blobs.capabilities.durable
        self.believed = BelievedConfig(
            blobs, self.reader, cache_dir if durable and url else None, cache_key or url, chunker
        )
        #: The location the store was opened from (closed with the store), if any.
        self.location: Location | None = None

    @classmethod
    def from_location(
        cls,
        location: Location,
        *,
        url: str | None = None,
        cache_dir: Path | None = None,
        chunker: ChunkerParams | None = None,
        level: int = 9,
        workers: int | None = None,
        sync_once: bool = False,
    ) -> Store:
        """A store over ``location``'s blob and ref stores that owns it: :meth:`close` closes it.

        ``url`` (default: the location's redacted URL) names the store in messages and keys
        its local cache; it must carry no secret.
        """
        store = cls(
            location.blobs,
            location.refs,
            url=location.url if url is None else url,
            cache_dir=cache_dir,
            chunker=chunker,
            level=level,
            workers=workers,
            sync_once=sync_once,
            cache_key=location.identity or None,
        )
        store.location = location
        return store

    # -- configuration and index -------------------------------------------------------

    @property
    def config(self) -> StoreConfig:
        """The store's config, created on first use (create-only, so cached locally; when the
        cache may be believed: :mod:`flowpack.cas.storeconfig`)."""
        return self.believed.get()

    @property
    def initialized(self) -> bool:
        return self.believed.current is not None or load_config(self.blobs) is not None

    def _cache_dir(self) -> Path | None:
        root = self.store_cache()
        return root / "index" if root is not None else None

    def store_cache(self) -> Path | None:
        """This store's folder in the local cache, if it has one."""
        if self._cache_root is None or not self.blobs.capabilities.durable:
            return None
        return self._cache_root / self.config.store_id

    def sync(self, *, force: bool = False) -> None:
        """Bring the in-memory index up to date: list ``index/``, fetch only new files.

        Also lists gc's condemnation notices: chunks in condemned packs stay readable but are
        not counted as held, so writers store them again (see :mod:`flowpack.cas.gc`).  A store
        opened with ``sync_once`` (one short command, as the CLI does) lists only on the first
        call unless ``force``; that is as safe as any push, which must finish within gc's grace
        period of its sync.
        """
        from flowpack.cas.indexcache import sync_index_files

        with self._lock:
            if self.sync_once and self._synced and not force:
                return
            self._synced = True
            self._index_files = sync_index_files(self.blobs, self._index_files, self._cache_dir())
            self._notices = load_notices(self.blobs, self._notices)
            self.index.replace(self._index_files, self._notices.condemned() | self._vanished)
            self.believed.saw_store(empty=not self._index_files)

    def short_grace_announced(self) -> bool:
        """Whether the last :meth:`sync` listed a gc short-grace announcement in force
        (:mod:`flowpack.cas.gc`): writers then re-check before moving a ref."""
        notices = self._notices
        return bool(notices and notices.announced(time.time()))

    def forget_packs(self, packs: Iterable[str]) -> None:
        """Treat ``packs`` (hexes an index lists, found deleted) as condemned from now on, so
        writers store their chunks again (:mod:`flowpack.cas.recheck`).  Thread-safe."""
        with self._lock:
            self._vanished = self._vanished | frozenset(packs)
            condemned = self._notices.condemned() if self._notices else frozenset()
            self.index.replace(self._index_files, condemned | self._vanished)

    def _remember_index(self, writer: Writer, written: IndexFile | None) -> None:
        """Keep the index file ``writer`` just stored: in memory and in the local cache, so no
        later sync (here or in another process) fetches it back."""
        from flowpack.cas.indexcache import remember_index_file

        if written is None or not writer.stats.index_files:
            return
        name = writer.stats.index_files[-1]
        if remember_index_file(self._cache_dir(), written, name):
            with self._lock:
                self._index_files.setdefault(name, written)

    @property
    def index_files(self) -> dict[str, IndexFile]:
        """The index files (by hex name) the last :meth:`sync` found, superseded ones included."""
        with self._lock:
            return dict(self._index_files)

    @property
    def live_index_files(self) -> set[str]:
        """The names of the index files the index is built from (a fresh set)."""
        return set(self.index.files)

    @property
    def condemned_packs(self) -> frozenset[str]:
        """Hexes of the packs gc has condemned (readable, but not counted as held)."""
        return self.index.condemned

    def locate(self, digest: Digest) -> ChunkLocation | None:
        """Where the index puts ``digest``, or None (no sync)."""
        return self.index.get(digest)

    def indexed_packs(self) -> list[PackEntry]:
        """Every pack the index lists (no sync)."""
        return self.index.packs()

    def indexed_objects(self) -> Iterator[tuple[Digest, ChunkLocation]]:
        """Every object the index lists, with where it lies (no sync)."""
        return self.index.items()

    def prefetch(self, digests: Iterable[Digest]) -> None:
        """Fetch the frames ``digests`` live in with few coalesced reads."""
        self.reader.prefetch(digests)

    @contextmanager
    def planned(
        self,
        digests: Iterable[Digest],
        spill: Path | FrameSpill | None = None,
        progress: Progress | None = None,
    ) -> Iterator[None]:
        """Within the block, ``digests`` are about to be read: the cache keeps the frames
        they need over others, and evicted ones in the directory ``spill`` if given (see
        :meth:`ChunkReader.plan`, which reports to ``progress``)."""
        plan = self.reader.plan(digests, spill, progress)
        try:
            yield
        finally:
            self.reader.unplan(plan)

    # -- writing -------------------------------------------------------------------------

    def put_tree(
        self,
        root: str | Path,
        *,
        metadata: Mapping[str, Any] | None = None,
        parent: Digest | None = None,
        progress: Progress | None = None,
        default_ignores: bool = True,
    ) -> PushResult:
        """Store the directory (or single file) at ``root`` as a bundle.

        What :mod:`flowpack.cas.ignore` leaves out (the default ignores unless
        ``default_ignores`` is False, and ``root/.flowpackignore``) is counted in the result's
        ``ignored``.  A directory goes through the files cache (:mod:`flowpack.cas.filescache`):
        an unchanged folder costs its listing and one ``lstat`` per entry."""
        from flowpack.cas.treepush import put_tree

        return put_tree(self, Path(root), metadata, parent, progress, default_ignores)

    def put_files(
        self,
        files: Iterable[SourceFile],
        *,
        kind: str = BUNDLE,
        metadata: Mapping[str, Any] | None = None,
        links: Sequence[Digest] = (),
        parent: Digest | None = None,
        progress: Progress | None = None,
    ) -> PushResult:
        """Store ``files`` (plus metadata and links to other manifests) as one manifest.

        ``parent`` names an earlier version (usually what the ref points at now): new chunks of
        a file are compressed against that version's chunks at the same path, and the manifest
        against the parent manifest, so a new version costs about what changed.
        Raises :class:`CapabilityError` on a read-only location, before any request.
        """
        from flowpack.cas.pushsession import put_files

        return put_files(self, list(files), kind, metadata, links, parent, progress)

    @contextmanager
    def batch(self) -> Iterator[WriteStats]:
        """Store everything :meth:`put_files` writes inside the block in one write session.

        Several manifests (a bundle and the record that links it) then cost one set of packs
        and one index file, uploaded when the block ends; until then nothing is visible, so set
        refs after the block.  Results returned inside the block report no upload yet: read the
        yielded :class:`WriteStats` after it.  The open batch belongs to the thread that opened
        it: other threads calling the same store meanwhile write in their own sessions (or
        their own batches).  Blocks do not nest within a thread (an inner one joins the outer).
        """
        refuse_write(self.blobs.capabilities, "push", self.url)
        self.sync()
        with self.writing() as writer:
            batches = self.batches
            outer = batches.writer is not None
            batches.writer = writer  # the outer batch's own writer when nested
            try:
                yield writer.stats
            finally:
                if not outer:
                    batches.writer = None
                    batches.manifests.clear()

    @contextmanager
    def writing(self, *, join_batch: bool = True) -> Iterator[Writer]:
        """One write session: the open :meth:`batch`'s (unless ``join_batch`` is False), else a
        new one whose packs and then index file are uploaded when the block ends (and dropped
        if the block raises).  :class:`CapabilityError` on a read-only location."""
        refuse_write(self.blobs.capabilities, "write", self.url)
        batch = self.batches.writer
        if join_batch and batch is not None:
            yield batch
            return
        first = self.config.first_format  # creates the store on first write
        from flowpack.cas.writer import Writer

        writer = Writer(
            self.blobs,
            self.index,
            self.reader,
            level=self.level,
            workers=self.workers,
            first_format=first,
        )
        try:
            yield writer
            self._remember_index(writer, writer.finish())
        except BaseException:
            writer.abort()
            raise

    # -- reading -------------------------------------------------------------------------

    def has(self, digest: Digest) -> bool:
        """Whether the store can read object ``digest`` (after a sync if needed)."""
        if self.index.get(digest) is not None:
            return True
        self.sync(force=True)
        return self.index.get(digest) is not None

    def missing(self, digests: Iterable[Digest]) -> list[Digest]:
        """Those of ``digests`` a writer must send, in order, found with one index sync.

        Objects only in packs gc has condemned count as missing: they may soon be deleted.
        """
        self.sync()
        return [d for d in digests if d.size and d not in self.index]

    def get_bytes(self, digest: Digest) -> bytes:
        """The verified bytes of object ``digest``."""
        if not self.has(digest):
            raise NotFound(f"object {digest} is not in the store")
        return self.reader.get(digest)

    def get_manifest(self, digest: Digest, *, cached: bool = False) -> Manifest:
        """The decoded, verified manifest ``digest`` names.

        With ``cached``, a copy kept in the local cache (re-hashed on every read) may answer
        instead of the store: for hot paths (a parent version, the previous record), never for
        checks of what the store holds (verify, audit).
        """
        return decode_manifest(self.manifest_bytes(digest, cached=cached), digest)

    def manifest_bytes(self, digest: Digest, *, cached: bool = False) -> bytes:
        """The verified bytes of manifest ``digest`` (``cached``: as :meth:`get_manifest`)."""
        pending = self.batches.manifests.get(digest)
        if pending is not None:  # written in the open batch, not uploaded yet
            return pending
        if cached:
            self.config  # noqa: B018 - opens the local cache (the config is cached too)
            data = self.believed.objects.get(digest)
            if data is not None:
                return data
        data = self.get_bytes(digest)
        self.believed.objects.put(digest, data)
        return data

    def read_file(self, digest: Digest, path: str) -> bytes:
        """The verified content of ``path`` in bundle ``digest``."""
        manifest = self.get_manifest(digest)
        try:
            entry = manifest.file(path)
        except KeyError:
            raise NotFound(f"no file {path!r} in bundle {digest}") from None
        return self.file_bytes(entry)

    def file_bytes(self, entry: FileEntry) -> bytes:
        """Reassemble and verify one file of a manifest (held whole: see :meth:`iter_file`)."""
        return b"".join(self.iter_file(entry))

    def iter_file(self, entry: FileEntry) -> Iterator[bytes]:
        """One file of a manifest as verified chunks, in bounded memory; raises
        :class:`CorruptObject` after the last chunk if the whole does not match its digest
        (see :mod:`flowpack.cas.streaming`)."""
        return iter_file(entry, self.prefetch, self.get_bytes)

    def resolve(self, text: str) -> Digest:
        """A manifest digest from a full digest, a unique prefix (8+ hex), or a ref name."""
        return resolve_name(text, self.sync, self.index, self.refs)

    def set_ref(
        self, name: str, digest: Digest, *, expected: Digest | None = None, create: bool = False
    ) -> None:
        """Point ref ``name`` at ``digest``, which must be stored (compare-and-set semantics)."""
        refuse_write(self.blobs.capabilities, f"set ref {name!r}", self.url)
        if not self.has(digest):
            raise NotFound(f"cannot point {name!r} at {digest}: it is not in the store")
        self.revive([digest])
        self.refs.update(name, digest, expected=expected, create=create)

    def revive(self, digests: Sequence[Digest]) -> None:
        """Store again what ``digests`` reach that lies only in condemned packs.

        Pointing a ref (or a link) at such objects would otherwise race with gc deleting them.
        """
        if digests and self.index.condemned:
            from flowpack.cas.copying import copy_objects

            copy_objects(self, self, digests)

    def copy_to(self, dst: Store, digests: Sequence[Digest]) -> PushResult:
        """Send ``dst`` the objects that ``digests`` reach and that it lacks."""
        from flowpack.cas.copying import copy_objects

        return copy_objects(self, dst, digests)

    def close(self) -> None:
        """Drop cached frames and close the location the store owns (if any).  Idempotent."""
        self.reader.clear()
        if self.location is not None:
            self.location.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
