"""One push of one manifest: the checks before it, and the write session that packs it.

:func:`begin_push` refuses a read-only location, creates the store if new, syncs and checks
the links; :func:`push_with` runs a packing function in a write session (the open batch's, if
any) with a :class:`~flowpack.cas.bases.BaseFinder` for its bases, then feeds the local
caches.  :meth:`Store.put_files <flowpack.cas.store.Store.put_files>` (a list of files) and
:func:`flowpack.cas.treepush.put_tree` (a directory through the files cache) are its two users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowpack.cas.content import Progress, PushResult
from flowpack.cas.digest import Digest
from flowpack.cas.errors import NotFound
from flowpack.cas.guards import refuse_write
from flowpack.cas.manifest import BUNDLE
from flowpack.cas.push import Packed, PushCaches, pack_files

if TYPE_CHECKING:
    from flowpack.cas.bases import BaseFinder
    from flowpack.cas.filescache import TreeCache
    from flowpack.cas.store import Store
    from flowpack.cas.tree import SourceFile
    from flowpack.cas.writer import Writer


def put_files(
    store: Store,
    files: list[SourceFile],
    kind: str,
    metadata: Mapping[str, Any] | None,
    links: Sequence[Digest],
    parent: Digest | None,
    progress: Progress | None,
) -> PushResult:
    """:meth:`Store.put_files <flowpack.cas.store.Store.put_files>`."""
    begin_push(store, links)

    def pack(writer: Writer, bases: BaseFinder) -> Packed:
        chunker = store.config.chunker
        return pack_files(writer, files, chunker, bases, kind, metadata, links, progress)

    caches = PushCaches(store.store_cache())
    return push_with(store, pack, caches, kind, parent, lambda: (f.path for f in files), progress)


def begin_push(store: Store, links: Sequence[Digest] = ()) -> None:
    """Refuse a read-only location, create the store if new, sync, and check ``links``."""
    refuse_write(store.blobs.capabilities, "push", store.url)
    store.config  # noqa: B018 - creates the store on first write
    store.sync()
    batch = store.batches.writer
    for link in links:
        if not ((batch is not None and batch.has(link)) or store.has(link)):
            raise NotFound(f"linked object {link} is not in the store")
    store.revive([link for link in links if store.index.get(link) is not None])


def push_with(
    store: Store,
    pack: Callable[[Writer, BaseFinder], Packed],
    caches: PushCaches,
    kind: str,
    parent: Digest | None,
    paths: Callable[[], Iterable[str]],
    progress: Progress | None,
    tree: TreeCache | None = None,
) -> PushResult:
    """Run ``pack`` in a write session (the open batch's, if any), then feed the caches
    (``paths()``: the bundle's paths; ``tree``: the files cache records ``pack`` kept).

    Without ``parent``, a bundle's bases come from the held bundle most like it (found only
    if a base is needed)."""
    from flowpack.cas.bases import BaseFinder
    from flowpack.cas.filescache import Stamp
    from flowpack.cas.manifestview import ManifestView

    batch = store.batches.writer

    def by_content() -> Digest | None:
        return caches.sketches.best(paths(), store.index) if kind == BUNDLE else None

    def manifest(d: Digest) -> ManifestView:
        return ManifestView(store.manifest_bytes(d, cached=True))

    bases = BaseFinder(parent, store.index, store.reader, manifest, find_parent=by_content)
    with store.writing() as writer:
        packed = pack(writer, bases)
        if progress and batch is None:
            progress("upload", 0, 0)
    if packed.data is not None:
        store.believed.objects.put(packed.digest, packed.data)
    # once the session is uploaded, every chunk of the tree is held in this index
    held = None if batch else Stamp.of(store.index, writer.stats.index_files)
    caches.pushed(packed, paths, remember=kind == BUNDLE and not batch, tree=tree, stamp=held)
    if batch is not None and packed.data is not None:
        store.batches.manifests[packed.digest] = packed.data
    return packed.result(writer.stats)
