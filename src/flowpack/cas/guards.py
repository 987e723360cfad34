"""What the core does with a location's declared capabilities (:class:`.protocols.Capabilities`).

No guarantee is degraded silently; each capability a location lacks changes the core as follows.

``read_only``
    Every write is refused with one :class:`CapabilityError` line before any request: pushes
    (``Store.put_files``/``put_tree``/``batch``/``writing``, hence imports and copies into the
    location), ref updates (``Store.set_ref``, ``Refs.update``/``compare_and_set``/``delete``)
    and gc (a ``dry_run`` only reads, so it runs).

``atomic_cas`` False
    Every ref update re-reads the ref after writing it and raises :class:`RefConflict`, naming
    the current value, when it does not hold the value written (a concurrent update won).  The
    first update through a store logs a warning (logger ``flowpack.cas``, shown on stderr) that the
    location has no atomic compare-and-set, so a concurrent update can still be lost unseen
    between the write and the re-read.

``range_reads`` False
    The chunk reader never asks for part of a blob: it reads a pack whole, once, keeps it in a
    small cache and slices frames from it; gc reads whole packs for frame headers.

``listable`` False
    The location cannot enumerate ``packs/``.  The small control prefixes ``index/`` and
    ``gc/`` must still be listed by the adapter (a registry lists them from tags), so syncs,
    pushes, reads and stats work unchanged.  gc refuses (it must list ``packs/`` to find
    unindexed packs, and cannot prove a pack dead otherwise).  verify works from what the
    index files and refs reach: it checks each pack in scope by ``stat`` instead of a listing
    and does not count unindexed packs.
"""

from __future__ import annotations

from flowpack.cas.errors import CapabilityError
from flowpack.cas.protocols import Capabilities

__all__ = ["refuse_write", "require_listing"]


def refuse_write(capabilities: Capabilities, operation: str, where: str) -> None:
    """Raise :class:`CapabilityError` if the location is read-only (``operation``: what was
    asked, as a verb phrase: ``"push"``, ``"set ref 'x'"``)."""
    if capabilities.read_only:
        raise CapabilityError(f"{where or 'the location'} is read-only: cannot {operation}")


def require_listing(capabilities: Capabilities, operation: str, where: str) -> None:
    """Raise :class:`CapabilityError` if the location cannot list ``packs/``."""
    if not capabilities.listable:
        raise CapabilityError(
            f"{where or 'the location'} cannot list its blobs: {operation} needs a listing of"
            " packs/"
        )
