"""Reachability: listing refs even when some are damaged, and walking what manifests reach.

A manifest reaches its file chunks and, through ``links``, other manifests (records link to
the bundle they describe and to their parent record).  A linked object that the index holds as
data rather than as a manifest is a leaf: it is reached, never decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData, NotFound, UsageError
from flowpack.cas.manifest import Manifest
from flowpack.cas.pack import MANIFEST
from flowpack.cas.refs import Refs

if TYPE_CHECKING:
    from flowpack.cas.store import Store

#: Every character a ref name may contain, for splitting a listing around a damaged ref.
REF_ALPHABET = "/-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class RefScan:
    """The refs a store lists: those whose value decodes, and the damaged ones with a reason."""

    good: dict[str, Digest] = field(default_factory=dict)
    damaged: dict[str, str] = field(default_factory=dict)


def scan_refs(refs: Refs, prefix: str = "") -> RefScan:
    """Every ref under ``prefix``; a damaged ref does not hide the others.

    A listing stops at the first ref whose stored value does not verify; the listing is then
    split by the next character of the name until each damaged ref is isolated (a few dozen
    listings per damaged ref, none when the refs are sound).  Backend errors propagate.
    """
    out = RefScan()
    _scan(refs, prefix, out)
    return out


def _scan(refs: Refs, prefix: str, out: RefScan) -> None:
    found: dict[str, Digest] = {}
    try:
        for name, digest in refs.iter(prefix):
            found[name] = digest
    except MalformedData:
        pass
    else:
        out.good.update(found)
        return
    if prefix:
        try:
            value = refs.get(prefix)
        except MalformedData as exc:
            out.damaged[prefix] = str(exc)
        except UsageError:
            pass  # not a complete ref name
        else:
            if value is not None:
                out.good[prefix] = value
    for c in REF_ALPHABET:
        _scan(refs, prefix + c, out)


@dataclass
class Reach:
    """What a set of roots reaches: manifests (decoded) and the other objects, each once."""

    manifests: dict[Digest, Manifest] = field(default_factory=dict)
    objects: dict[Digest, None] = field(default_factory=dict)

    def all(self) -> list[Digest]:
        """Every reached digest: data objects first, then manifests (leaves before roots)."""
        return [*self.objects, *reversed(self.manifests)]


def walk(
    roots: Iterable[Digest],
    load: Callable[[Digest], Manifest | None],
) -> Reach:
    """Walk from ``roots``: ``load`` returns a digest's manifest, or None for a data object.

    ``load`` raises what it likes for a missing or damaged object; the walk does not catch it.
    """
    reach = Reach()
    todo = list(roots)
    seen: set[Digest] = set()
    while todo:
        d = todo.pop()
        if d in seen:
            continue
        seen.add(d)
        manifest = load(d)
        if manifest is None:
            reach.objects[d] = None
            continue
        reach.manifests[d] = manifest
        for f in manifest.files:
            for c in f.chunks:
                reach.objects[c] = None
        todo.extend(reversed(manifest.links))
    return reach


def manifest_loader(store: Store) -> Callable[[Digest], Manifest | None]:
    """A ``load`` for :func:`walk` over ``store``: verified reads, :class:`NotFound` if absent.

    Objects the index holds as manifests are decoded; any other kind is a leaf.
    """

    def load(d: Digest) -> Manifest | None:
        if not store.has(d):
            raise NotFound(f"object {d} is not in the store")
        loc = store.index.get(d)
        if loc is None or loc.kind != MANIFEST:
            return None
        return store.get_manifest(d)

    return load
