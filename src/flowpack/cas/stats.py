"""``stats``: how much a store holds, and how much deduplication and compression save.

``objects``: chunks (and manifests) the index lists; ``packs``: packs the index lists;
``stored_bytes``: those packs' sizes plus the index files' sizes; ``logical_bytes``: the sum,
over every distinct manifest the refs reach, of its files' sizes (a bundle reached by two refs
counts once; two bundles sharing a file count it twice); ``unique_bytes``: the sum of the
indexed objects' sizes (what is stored, before compression); ``dedup_ratio``: logical bytes
over stored bytes, to two places (0.0 for an empty store); ``refs``: how many refs there are.
Also ``bundles`` (reached manifests) and ``condemned_packs`` (awaiting gc's sweep).

Damaged refs are counted but not followed; a reached manifest that cannot be read raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowpack.cas.content import Content
from flowpack.cas.reach import scan_refs
from flowpack.cas.walk import manifest_loader, walk


@dataclass(frozen=True)
class StoreStats:
    """The figures the module docstring defines."""

    objects: int
    packs: int
    stored_bytes: int
    logical_bytes: int
    unique_bytes: int
    dedup_ratio: float
    refs: int
    bundles: int
    condemned_packs: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "packs": self.packs,
            "stored_bytes": self.stored_bytes,
            "logical_bytes": self.logical_bytes,
            "unique_bytes": self.unique_bytes,
            "dedup_ratio": self.dedup_ratio,
            "refs": self.refs,
            "bundles": self.bundles,
            "condemned_packs": self.condemned_packs,
        }


def store_stats(store: Content) -> StoreStats:
    """The figures the module docstring lists, from one index sync and one ref listing."""
    scan = scan_refs(store.refs)
    store.sync(force=True)
    packs = store.indexed_packs()
    index_bytes = sum(info.size for info in store.blobs.iter_keys("index/"))
    stored = sum(p.pack.size for p in packs) + index_bytes
    reach = walk(scan.good.values(), manifest_loader(store))
    logical = sum(m.size for m in reach.manifests.values())
    objects = [d for d, _ in store.indexed_objects()]
    return StoreStats(
        objects=len(objects),
        packs=len(packs),
        stored_bytes=stored,
        logical_bytes=logical,
        unique_bytes=sum(d.size for d in objects),
        dedup_ratio=round(logical / stored, 2) if stored else 0.0,
        refs=len(scan.good) + len(scan.damaged),
        bundles=len(reach.manifests),
        condemned_packs=len(store.condemned_packs),
    )
