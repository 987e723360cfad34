"""A writer's last look before it moves a ref: is everything the new value reaches still there?

``gc`` deletes what no ref reaches (:mod:`flowpack.cas.gc`).  Between a writer's upload and
its ref's compare-and-set, the writer's new packs are reached by nothing, so a gc running with
a grace period shorter than the push can condemn them (and sweep them on its next run), or
delete a new pack as unindexed before its index file is uploaded.  :func:`recheck` is the
writer's defence, run by :func:`flowpack.cas.advance.advance` just before the compare-and-set
wherever such a gc has announced itself (a ``gc/short-grace-*`` marker listed at the
writer's sync, :mod:`flowpack.cas.gc`), so a store without one pays no request for it:

1. sync the index and gc's condemnation notices afresh (two listings);
2. walk what the new value reaches, not descending into the links of manifests that were
   stored before this write (history the ref already kept alive): every object must still be
   indexed, outside any condemned pack;
3. ``stat`` each pack this write added: it must still exist.

A problem found is returned as text; a pack found deleted is marked on the store
(:meth:`~flowpack.cas.store.Store.forget_packs`) so the next write stores its chunks again.
The caller then writes again (reviving what was lost) or gives up with :class:`GcRaced`.
The check narrows the race to the moment between it and the compare-and-set, which a gc
running back to back with ``--grace 0`` can still hit in principle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError, IntegrityError, NotFound
from flowpack.cas.pack import MANIFEST

if TYPE_CHECKING:
    from flowpack.cas.store import Store


class GcRaced(FlowpackError):
    """What a write stored kept being deleted by a concurrent gc; the ref was not moved."""


def indexed_packs(store: Store) -> frozenset[str]:
    """The hexes of the packs the store's index lists now (no sync)."""
    return store.index.pack_hexes()


def recheck(store: Store, digest: Digest, before: frozenset[str]) -> str | None:
    """None when everything ``digest`` reaches is stored and not condemned, else the problem.

    ``before`` is :func:`indexed_packs` taken before the write: packs outside it are this
    write's own and are checked to exist.  Makes two listings, plus one ``stat`` per new pack.
    """
    store.sync(force=True)
    condemned = store.condemned_packs
    todo, seen, fresh = [digest], set(), set()
    while todo:
        d = todo.pop()
        if d in seen or d.size == 0:
            continue
        seen.add(d)
        loc = store.locate(d)
        if loc is None:
            return f"object {d} is no longer in the store"
        pack = loc.pack.hex
        if pack in condemned:
            return f"pack {pack}, holding {d}, was condemned by gc"
        new = pack not in before
        if new:
            fresh.add(pack)
        if loc.kind != MANIFEST:
            continue
        try:
            manifest = store.get_manifest(d, cached=True)
        except (IntegrityError, NotFound) as exc:
            return f"object {d} cannot be read: {exc}"
        todo.extend(c for f in manifest.files for c in f.chunks)
        if new:
            todo.extend(manifest.links)
    gone = sorted(p for p in fresh if not _exists(store, p))
    if gone:
        store.forget_packs(gone)
        return f"pack {gone[0]} was deleted by gc before the ref pointed at it"
    return None


def _exists(store: Store, pack: str) -> bool:
    try:
        store.blobs.stat(f"packs/{pack}")
    except NotFound:
        return False
    return True
