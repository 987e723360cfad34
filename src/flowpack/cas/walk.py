"""Walking what manifests reach.

A manifest reaches its file chunks and, through ``links``, other manifests (records link to
the bundle they describe and to their parent record).  A linked object that the index holds as
data rather than as a manifest is a leaf: it is reached, never decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowpack.cas.digest import Digest
from flowpack.cas.errors import NotFound
from flowpack.cas.manifest import Manifest
from flowpack.cas.pack import MANIFEST

if TYPE_CHECKING:
    from flowpack.cas.content import Content


@dataclass
class Reach:
    """What a set of roots reaches: manifests (decoded) and the other objects, each once."""

    manifests: dict[Digest, Manifest] = field(default_factory=dict)
    objects: dict[Digest, None] = field(default_factory=dict)

    def every_digest(self) -> list[Digest]:
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


def manifest_loader(content: Content) -> Callable[[Digest], Manifest | None]:
    """A ``load`` for :func:`walk` over ``content``: verified reads, :class:`NotFound` if absent.

    Objects the index holds as manifests are decoded; any other kind is a leaf.
    """

    def load(d: Digest) -> Manifest | None:
        if not content.has(d):
            raise NotFound(f"object {d} is not in the store")
        loc = content.locate(d)
        if loc is None or loc.kind != MANIFEST:
            return None
        return content.get_manifest(d)

    return load
