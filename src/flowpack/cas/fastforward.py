"""Moving a ref only forward: the rule ``copy`` (and any verb that sets a ref it was handed) obeys.

A ref update from ``old`` to ``new`` is a *fast-forward* when ``old`` is an ancestor of
``new``: following ``new``'s parent chain reaches ``old``.  The parent chain of an object is
its manifest's ``parent`` metadata, when that names one of the manifest's links (registration
and run records always record it; a plain bundle pushed by ``push`` records none, so for such
a ref any other value is not a fast-forward).  A ref that does not exist yet, or that already
holds ``new``, is always moved; a ref whose value already descends from ``new`` (it is
ahead) is left as it is.

Anything else is refused with :class:`NonFastForward` (exit 3) unless forced.  A forced move
never loses history: when the value it replaces is *chained* (its manifest has a ``parent``
field: a registration or run record), that value is first kept under
``diverged/<ref>/<first 12 hex of its digest>`` (:func:`diverged_ref`), so both chains stay
reachable (by gc, verify and ``flowpack log``).  A plain bundle replaced by force is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowpack.cas.advance import advance
from flowpack.cas.digest import Digest
from flowpack.cas.errors import RefConflict
from flowpack.cas.manifest import Manifest
from flowpack.cas.pack import MANIFEST

if TYPE_CHECKING:
    from flowpack.cas.store import Store

#: The namespace that keeps values a forced move replaced.
DIVERGED = "diverged"
#: The longest parent chain followed when looking for an ancestor.
MAX_CHAIN = 1_000_000


class NonFastForward(RefConflict):
    """A ref update that would drop the ref's current value from its history (exit 3)."""

    def __init__(self, message: str, current: object | None, ref: str) -> None:
        super().__init__(message, current)
        self.ref = ref


@dataclass(frozen=True)
class Moved:
    """What :func:`move_forward` did: ``kept_as`` names the ref keeping a replaced value."""

    ref: str
    old: Digest | None
    new: Digest
    moved: bool
    kept_as: str | None = None


def diverged_ref(ref: str, digest: Digest) -> str:
    """The ref that keeps ``digest`` when a forced move replaces it at ``ref``."""
    return f"{DIVERGED}/{ref}/{digest.short}"


def _manifest(store: Store, digest: Digest) -> Manifest | None:
    loc = store.locate(digest)
    if loc is None or loc.kind != MANIFEST:
        return None
    return store.get_manifest(digest, cached=True)


def chain_parent(manifest: Manifest) -> Digest | None:
    """The parent a manifest records (``parent`` metadata naming one of its links), if any."""
    value = manifest.metadata.get("parent")
    if not isinstance(value, str):
        return None
    return next((link for link in manifest.links if str(link) == value), None)


def is_chained(store: Store, digest: Digest) -> bool:
    """Whether ``digest`` is a manifest that records a parent field (a record of a chain)."""
    manifest = _manifest(store, digest)
    return manifest is not None and "parent" in manifest.metadata


def is_ancestor(store: Store, old: Digest, new: Digest) -> bool:
    """Whether following ``new``'s parent chain in ``store`` reaches ``old`` (or ``old == new``).

    Reads manifests from ``store`` (verified); raises what the reads raise for missing or
    damaged objects.
    """
    seen: set[Digest] = set()
    cur: Digest | None = new
    while cur is not None and cur not in seen and len(seen) < MAX_CHAIN:
        if cur == old:
            return True
        seen.add(cur)
        manifest = _manifest(store, cur)
        cur = chain_parent(manifest) if manifest is not None else None
    return False


def move_forward(store: Store, ref: str, new: Digest, *, force: bool = False) -> Moved:
    """Move ``ref`` to ``new`` (already stored) by compare-and-set, only as a fast-forward.

    A ref already ahead of ``new`` is left (``moved`` false).  Raises
    :class:`NonFastForward` naming the ref, both values and ``--force`` when the ref's
    value is not an ancestor of ``new``; with ``force`` the move is made, after keeping a
    chained value under :func:`diverged_ref`.  Raises :class:`RefConflict` when the ref changes
    between the read and the compare-and-set.  Atomic per ref (one compare-and-set).
    """
    kept: list[str] = []

    def write(head: Digest | None) -> Digest:
        if head is None or is_ancestor(store, head, new):
            return new
        if not force and is_ancestor(store, new, head):
            return head  # the ref is ahead already: nothing to move, nothing lost
        if not force:
            raise NonFastForward(
                f"refusing to move ref {ref!r} from {head} to {new}: not a fast-forward "
                f"(its value is not an ancestor of the new one); --force moves it, "
                f"keeping a record chain under {diverged_ref(ref, head)!r}",
                head,
                ref,
            )
        if is_chained(store, head):
            kept.append(_keep(store, ref, head))
        return new

    done = advance(store, ref, write, session=False)
    return Moved(ref, done.head, new, done.moved, kept[-1] if kept else None)


def _keep(store: Store, ref: str, value: Digest) -> str:
    """Point :func:`diverged_ref` at ``value`` (creating it; fine if it already holds it)."""
    name = diverged_ref(ref, value)
    try:
        store.set_ref(name, value, create=True)
    except RefConflict:
        if store.refs.get(name) != value:
            raise
    return name
