"""Put, then move the ref: the one way flowpack stores something new and names it.

A ref is the only commit point of a write (see :mod:`flowpack.cas.writer`): objects go up
first, invisible to every reader, and become reachable only when a ref moves to them by
compare-and-set.  :func:`advance` is that sequence, written once:

1. read the ref's head (``None`` when the ref does not exist);
2. call ``write(head)``, which stores whatever it likes and returns the digest the ref should
   point at; by default inside one write session (:meth:`Store.batch`), so everything it
   stores (a bundle and the record that links it) costs one set of packs and one index file,
   uploaded before step 3;
3. where a gc with a short grace has announced itself (:mod:`flowpack.cas.gc`), re-check
   that everything the digest reaches is still stored and not condemned by gc
   (:func:`flowpack.cas.recheck.recheck`); if not, start again from step 1, so the next
   ``write`` stores anew what a concurrent gc took (at most :data:`MAX_REVIVALS` times,
   then :class:`~flowpack.cas.recheck.GcRaced`);
4. compare-and-set the ref from ``head`` to that digest (nothing to do when it already points
   there).

On a lost race (another writer moved the ref between steps 1 and 4) :func:`advance` raises
:class:`~flowpack.cas.errors.RefConflict`, naming the ref's current value, or, while
``retries`` remain, starts again from step 1 with the new head, so a ``write`` that chains
its result on its parent (a registration or run record) re-links it on the winner.  What a
losing try stored stays unreferenced until gc removes it; nothing a loser wrote is ever
visible through the ref.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowpack.cas.digest import Digest
from flowpack.cas.errors import RefConflict, UsageError
from flowpack.cas.recheck import GcRaced, indexed_packs, recheck

if TYPE_CHECKING:
    from flowpack.cas.store import Store

#: How many times a write is redone because a concurrent gc deleted what it stored.
MAX_REVIVALS = 3

#: ``write(head) -> digest``: store something (chained on ``head`` if it likes) and return
#: the digest the ref should point at.  Returning ``head`` itself leaves the ref alone.
Write = Callable[[Digest | None], Digest]


@dataclass(frozen=True)
class Advanced:
    """What :func:`advance` did.

    ``head`` is the value the winning try read (and compared against), ``digest`` the value
    the ref holds now; ``moved`` is false when ``write`` returned the head itself.  ``tries``
    counts the calls to ``write`` (1 without a lost race).  ``bytes_uploaded`` and
    ``packs_uploaded`` add up the write sessions :func:`advance` opened, losing tries
    included (both 0 with ``session=False``: ``write`` then reports its own uploads).
    """

    ref: str
    head: Digest | None
    digest: Digest
    moved: bool
    tries: int
    bytes_uploaded: int = 0
    packs_uploaded: int = 0


def advance(
    store: Store,
    ref: str,
    write: Write,
    *,
    retries: int = 0,
    session: bool = True,
) -> Advanced:
    """Read ``ref``'s head, store ``write(head)``, then move ``ref`` from head to it.

    ``write`` runs inside one write session (:meth:`Store.batch`) unless ``session`` is
    false, for a ``write`` that is already a single write session (one ``put_tree``) or that
    stores nothing (a copy whose objects are already sent).  The ref moves only after that
    session is uploaded, by compare-and-set from the head ``write`` was given; if ``write``
    returns the head, the ref is left as it is and no ref write is made.

    Before the compare-and-set, what the digest reaches is re-checked (module docstring, step
    3); a write whose objects a concurrent gc deleted runs again, and after
    :data:`MAX_REVIVALS` such runs :class:`GcRaced` is raised with the ref untouched.

    Raises :class:`RefConflict` (exit 3) when the ref moved meanwhile: with ``retries=0`` the
    compare-and-set's own error, naming the ref's current value; otherwise ``write`` runs
    again with the new head, at most ``retries`` more times, then ``RefConflict("ref ... kept
    changing; gave up after N tries")``.  Whatever ``write`` raises propagates at once (its
    session is dropped, the ref untouched); :class:`~flowpack.cas.errors.NotFound` when the
    digest returned is not stored.  Not atomic across tries; each try is all-or-nothing as
    seen through the ref.  Thread-safe as far as ``write`` and :meth:`Store.batch` are.
    """
    if retries < 0:
        raise UsageError(f"retries must be 0 or more, not {retries}")
    uploaded = packs = tries = revivals = 0
    while True:
        tries += 1
        head = store.refs.get(ref)
        before = indexed_packs(store)
        if session:
            with store.batch() as written:
                digest = write(head)
            uploaded += written.bytes_uploaded
            packs += written.packs_uploaded
        else:
            digest = write(head)
        if digest == head:
            return Advanced(ref, head, digest, False, tries, uploaded, packs)
        # (a digest never stored is left to set_ref, which refuses it as not found)
        checking = store.has(digest) and store.short_grace_announced()
        problem = recheck(store, digest, before) if checking else None
        if problem is not None:
            revivals += 1
            if revivals > MAX_REVIVALS:
                raise GcRaced(
                    f"ref {ref!r} not moved: {problem}, {revivals} times; a gc with a grace "
                    "period shorter than this write is running (give gc a longer --grace)"
                )
            continue  # write again: what gc took is stored anew
        try:
            store.set_ref(ref, digest, expected=head, create=head is None)
        except RefConflict:
            if tries > retries:
                if retries:
                    raise RefConflict(
                        f"ref {ref!r} kept changing; gave up after {tries} tries",
                        store.refs.get(ref),
                    ) from None
                raise
            continue
        return Advanced(ref, head, digest, True, tries, uploaded, packs)
