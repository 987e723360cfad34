"""``gc``: delete the packs no ref reaches, in two phases, without locks.

*Mark.*  Live objects are everything the refs reach (manifests through their links, records
being manifests too, and the chunks of their files).  A pack is live when the index resolves a
live object to it, or when it holds a base that a frame of a live pack is compressed against
(followed to a fixed point, so a kept frame always stays decodable).  A partly live pack is
kept whole: gc never repacks, so the unreachable chunks in it stay until every chunk in it is
unreachable.  A damaged ref, index file, manifest or live pack stops gc before it deletes
anything (run ``verify``): what cannot be read cannot be proved dead.

*Condemn.*  A dead pack is not deleted at once: it is named in a create-only notice
``gc/condemned-<hex>`` (:mod:`flowpack.cas.condemned`) with the time.  From then on every
writer that syncs treats the pack's chunks as missing and stores them again in a new pack, so
no new push can come to rely on it; readers can still read it.

*Sweep* (a later run).  A pack condemned at least ``grace`` seconds ago and still dead is
deleted; a condemned pack that is live again (a ref was pointed at it) is un-condemned.  Packs
that no index lists (left by a crashed push) are deleted once older than ``grace`` by their
backend time; nothing younger than ``grace`` is ever deleted, and a pack of unknown age is kept.
Temporary upload files a killed writer left (an adapter's own, found through its
:class:`~flowpack.cas.protocols.LeftoverCleaner` hook) are removed once older than ``grace``.
Deletion order, so a crash at any point leaves a consistent store: (1) write the new notices,
(2) write a new index file (create-only, content-addressed) that supersedes the index files
mentioning the doomed packs and keeps all their other entries, (3) delete the packs, (4) delete
the superseded index files (and index files left empty), (5) delete the processed notices.

The safety argument: a push that synced before a pack was condemned may dedup against it, but
finishes (moves its ref) within ``grace``; the sweep, ``grace`` later, marks again and sees that
ref.  A push that syncs later never uses the pack.  A writer whose new pack is byte-identical
to an existing one (say, a condemned one) adds a nonce frame instead of relying on it.  So the
only requirement is that no push takes longer than ``grace``; ``grace=0`` is for a store that
nothing else writes to.  Run one gc at a time per store.

*Short grace.*  ``flowpack gc`` refuses a grace shorter than :data:`MIN_GRACE` unless forced
(:func:`check_grace`).  A forced run announces itself with a ``gc/short-grace-<time>`` marker
(:func:`_announce`); every writer whose sync listed one re-checks, just before its ref's
compare-and-set, that what the new value reaches is still stored and not condemned, and
stores again what gc took (:mod:`flowpack.cas.recheck`).  That narrows the risk without
removing it: a writer that synced before the first marker, or that stalls between its
re-check and its compare-and-set while gc condemns and sweeps, can still lose its packs, so
a forced short grace is for stores nothing else writes to, or where that risk is accepted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flowpack.cas.condemned import MARKER_PREFIX, MARKER_TTL, Notice, Notices, load_notices
from flowpack.cas.content import Content, Progress
from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    AlreadyExists,
    IntegrityError,
    NotFound,
    UsageError,
)
from flowpack.cas.frameheads import delta_bases
from flowpack.cas.frames import FrameSpan
from flowpack.cas.guards import refuse_write, require_listing
from flowpack.cas.index import IndexFile, PackEntry
from flowpack.cas.manifest import Manifest
from flowpack.cas.meter import Meter
from flowpack.cas.pack import MANIFEST
from flowpack.cas.protocols import LeftoverCleaner
from flowpack.cas.reach import scan_refs
from flowpack.cas.walk import manifest_loader, walk

#: The shortest grace ``flowpack gc`` accepts without ``--force``: a push running longer than
#: the grace period can lose the packs it uploaded before its ref moved.
MIN_GRACE = 600.0


@dataclass(frozen=True)
class GcReport:
    """What a gc run found and did (or, with ``dry_run``, would do).  Packs by hex."""

    dry_run: bool
    grace: float
    live_packs: int
    partial_packs: int
    condemned: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    uncondemned: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    orphans_deleted: list[str] = field(default_factory=list)
    orphans_kept: int = 0
    freed_bytes: int = 0
    index_written: list[str] = field(default_factory=list)
    index_deleted: list[str] = field(default_factory=list)
    #: Temporary files of killed writers, older than the grace, removed (through the adapter).
    leftovers_deleted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "grace": self.grace,
            "live_packs": self.live_packs,
            "partial_packs": self.partial_packs,
            "condemned": list(self.condemned),
            "pending": list(self.pending),
            "uncondemned": list(self.uncondemned),
            "deleted": list(self.deleted),
            "orphans_deleted": list(self.orphans_deleted),
            "orphans_kept": self.orphans_kept,
            "freed_bytes": self.freed_bytes,
            "index_written": list(self.index_written),
            "index_deleted": list(self.index_deleted),
            "leftovers_deleted": self.leftovers_deleted,
        }

    def summary(self) -> str:
        """One line for humans."""
        verb = "would delete" if self.dry_run else "deleted"
        gone = len(self.deleted) + len(self.orphans_deleted)
        parts = [
            f"{self.live_packs} packs live ({self.partial_packs} partly)",
            f"{len(self.condemned)} newly condemned",
            f"{len(self.pending)} condemned within the grace period",
        ]
        if self.uncondemned:
            parts.append(f"{len(self.uncondemned)} live again")
        parts.append(f"{verb} {gone} packs ({len(self.orphans_deleted)} unindexed)")
        parts.append(f"freeing {_human(self.freed_bytes)}")
        if self.orphans_kept:
            parts.append(f"{self.orphans_kept} unindexed packs kept (too young)")
        if self.leftovers_deleted:
            parts.append(f"{verb} {self.leftovers_deleted} leftover temporary files")
        return "gc: " + ", ".join(parts)


def collect(
    store: Content,
    *,
    grace: float = 86400.0,
    dry_run: bool = False,
    now: float | None = None,
    progress: Progress | None = None,
    announce: bool = False,
) -> GcReport:
    """Mark, condemn and sweep as the module docstring describes.

    With ``announce`` and a ``grace`` under :data:`MIN_GRACE` (what ``flowpack gc --force``
    asks for), the run first announces itself (:func:`_announce`), so writers re-check
    before their ref updates.

    Raises :class:`CapabilityError` before any request where the location cannot list its
    blobs, or (unless ``dry_run``) is read-only; :class:`IntegrityError` for damage that stops
    gc before it deletes anything.
    """
    _check_capabilities(store, dry_run=dry_run)
    now = time.time() if now is None else now
    # Packs are listed before the refs and the index are read: a pack whose index appears
    # later is then seen as unindexed but young, never as dead.
    listed = {info.key[len("packs/") :]: info for info in store.blobs.iter_keys("packs/")}
    scan = scan_refs(store.refs)
    if scan.damaged:
        name = sorted(scan.damaged)[0]
        raise IntegrityError(f"gc stopped: ref {name!r} is damaged; run flowpack verify")
    store.sync(force=True)
    notices = load_notices(store.blobs)
    if announce and grace < MIN_GRACE and not dry_run:
        _announce(store, notices, now)
    live_objects = _mark(store, scan.good.values(), progress)
    entries = {p.pack.hex: p for p in store.indexed_packs()}
    live = _live_packs(store, live_objects, entries, progress)
    partial = sum(
        1
        for h in live
        if any(r not in live_objects for fr in entries[h].frames for r in fr.records)
    )
    dead = set(entries) - live
    since = notices.since()
    sweep = sorted(h for h in dead if h in since and now - since[h] >= grace)
    pending = sorted(h for h in dead if h in since and h not in sweep)
    orphans, young = _orphans(store, listed, entries, now, grace)
    cleaner = store.blobs if isinstance(store.blobs, LeftoverCleaner) else None
    leftovers = cleaner.leftovers(now - grace) if cleaner is not None else []
    sizes = {h: _size(h, listed, entries) for h in [*sweep, *orphans]}
    report = GcReport(
        dry_run,
        grace,
        len(live),
        partial,
        condemned=sorted(h for h in dead if h not in since),
        pending=pending,
        uncondemned=sorted(h for h in since if h in live),
        deleted=sweep,
        orphans_deleted=orphans,
        orphans_kept=young,
        freed_bytes=sum(sizes.values()) + sum(info.size for info in leftovers),
        leftovers_deleted=len(leftovers),
    )
    if dry_run:
        return report
    meter = Meter(progress, "sweep", sum(sizes.values()))
    _sweep(store, report, notices, set(pending), now, meter=meter, sizes=sizes)
    for info in leftovers:
        assert cleaner is not None
        cleaner.remove_leftover(info.key)
    store.sync(force=True)
    return report


def check_grace(grace: float, *, force: bool = False) -> None:
    """Refuse (:class:`UsageError`, exit 2) a ``grace`` shorter than :data:`MIN_GRACE` unless
    ``force``: it would delete the packs of a push still running."""
    if grace < MIN_GRACE and not force:
        raise UsageError(
            f"refusing gc with a grace of {grace:g}s, under the {MIN_GRACE:g}s minimum: a push "
            "still running when gc sweeps can lose the packs it uploaded; --force accepts "
            "that (safe only when nothing else writes to the store)"
        )


def _announce(store: Content, notices: Notices, now: float) -> None:
    """Keep a short-grace announcement (``gc/short-grace-<time>``) in force.

    Writers that list an announcement at their sync re-check what their new ref value reaches
    just before moving it (:mod:`flowpack.cas.recheck`).  A new marker is written when none is
    younger than half :data:`MARKER_TTL`; expired ones are deleted.
    """
    times = notices.announced(now)
    if not times or now - times[-1] >= MARKER_TTL / 2:
        try:
            store.blobs.put(f"{MARKER_PREFIX}{int(now)}", b"", create_only=True)
        except AlreadyExists:
            pass
    for key, t in notices.markers.items():
        if now - t >= MARKER_TTL:
            store.blobs.delete(key)


def _check_capabilities(store: Content, *, dry_run: bool) -> None:
    """gc lists ``packs/`` and (unless ``dry_run``) deletes: refuse where it cannot."""
    caps = store.blobs.capabilities
    require_listing(caps, "gc", store.url)
    if not dry_run:
        refuse_write(caps, "gc", store.url)


def _mark(store: Content, roots: Iterable[Digest], progress: Progress | None) -> set[Digest]:
    """Every non-empty object ``roots`` reach; :class:`IntegrityError` if one is unreadable.

    Progress is in bytes of manifests read, out of those the index holds."""
    load = manifest_loader(store)
    manifests = (d.size for d, loc in store.indexed_objects() if loc.kind == MANIFEST)
    meter = Meter(progress, "mark", sum(manifests) if progress else 0)

    def counted(d: Digest) -> Manifest | None:
        manifest = load(d)
        if manifest is not None:
            meter.add(d.size)
        return manifest

    try:
        reach = walk(roots, counted)
    except (IntegrityError, NotFound) as exc:
        raise IntegrityError(f"gc stopped: {exc}; run flowpack verify") from exc
    return {d for d in [*reach.objects, *reach.manifests] if d.size}


def _live_packs(
    store: Content, live: set[Digest], entries: dict[str, PackEntry], progress: Progress | None
) -> set[str]:
    """The packs live objects resolve to, closed over the bases of their delta frames.

    Progress is in bytes of the live packs examined (the total grows with packs of bases)."""
    packs: set[str] = set()
    for d in live:
        loc = store.locate(d)
        if loc is None:
            raise IntegrityError(f"gc stopped: object {d} is missing; run flowpack verify")
        packs.add(loc.pack.hex)
    todo = sorted(packs)
    meter = Meter(progress, "examine", sum(entries[h].pack.size for h in todo))
    while todo:
        entry = entries[todo.pop()]
        for base in _frame_bases(store, entry):
            loc = store.locate(base)
            if loc is not None and loc.pack.hex not in packs:
                packs.add(loc.pack.hex)
                todo.append(loc.pack.hex)
                meter.grow(entries[loc.pack.hex].pack.size)
        meter.add(entry.pack.size)
    return packs


def _frame_bases(store: Content, entry: PackEntry) -> set[Digest]:
    """The bases of every delta frame of a pack, read from the frame headers."""
    try:
        return {b for bases in delta_bases(store.blobs, entry) for b in bases}
    except (IntegrityError, NotFound) as exc:
        raise IntegrityError(
            f"gc stopped: cannot read the frames of live pack {entry.pack}: {exc};"
            " run flowpack verify"
        ) from exc


def _orphans(
    store: Content, listed: dict[str, Any], entries: dict[str, PackEntry], now: float, grace: float
) -> tuple[list[str], int]:
    """Unindexed packs older than ``grace`` (to delete), and how many younger ones remain."""
    old: list[str] = []
    young = 0
    for h, info in sorted(listed.items()):
        if h in entries:
            continue
        mtime = info.mtime
        if mtime is None:
            try:
                mtime = store.blobs.stat(info.key).mtime
            except NotFound:
                continue
        if mtime is not None and now - mtime >= grace:
            old.append(h)
        else:
            young += 1
    return old, young


def _size(h: str, listed: dict[str, Any], entries: dict[str, PackEntry]) -> int:
    if h in listed:
        return int(listed[h].size)
    return entries[h].pack.size if h in entries else 0


def _sweep(
    store: Content,
    report: GcReport,
    notices: Notices,
    pending: set[str],
    now: float,
    *,
    meter: Meter,
    sizes: dict[str, int],
) -> None:
    """Steps (1) to (5) of the module docstring; ``meter`` counts the packs' bytes deleted."""
    doomed = set(report.deleted)
    # (1) notices: a new one for the fresh condemnations, and a replacement for every notice
    # some of whose packs were processed (deleted, live again, or no longer indexed).
    stale = set(notices.damaged)
    if report.condemned:
        _put_notice(store, Notice(now, tuple(report.condemned)))
    for key, notice in notices.valid.items():
        keep = tuple(h for h in notice.packs if h in pending)
        if len(keep) != len(notice.packs):
            stale.add(key)
            if keep:
                _put_notice(store, Notice(notice.time, keep))
    # (2) a superseding index file for the index files that mention doomed packs.
    files = store.index_files
    live_names = store.live_index_files
    affected = sorted(n for n in live_names if any(d.hex in doomed for d, _ in files[n].spans))
    gone = {n for n in files if n not in live_names}
    if affected:
        kept: dict[str, tuple[Digest, tuple[FrameSpan, ...]]] = {}
        for n in affected:
            for pack, spans in files[n].spans:
                if pack.hex not in doomed:
                    kept.setdefault(pack.hex, (pack, spans))
        supersedes = set(affected) | {s for n in affected for s in files[n].supersedes}
        new = IndexFile(tuple(kept.values()), tuple(sorted(s for s in supersedes if s in files)))
        data = new.encode()
        name = Digest.of(data).hex
        try:
            store.blobs.put(f"index/{name}", data, create_only=True)
        except AlreadyExists:
            pass
        report.index_written.append(name)
        files[name] = new
        live_names.add(name)
        gone |= set(affected)
    # (3) the packs.
    for h in [*report.deleted, *report.orphans_deleted]:
        store.blobs.delete(f"packs/{h}")
        meter.add(sizes.get(h, 0))
    # (4) superseded index files, then index files left with nothing to list or supersede.
    for n in sorted(gone):
        store.blobs.delete(f"index/{n}")
        report.index_deleted.append(n)
    for n in sorted(live_names):
        f = files[n]
        if not f.packs and not any(s in files and s not in gone for s in f.supersedes):
            store.blobs.delete(f"index/{n}")
            report.index_deleted.append(n)
    # (5) the notices this run replaced or fully processed.
    for key in sorted(stale):
        store.blobs.delete(key)


def _put_notice(store: Content, notice: Notice) -> None:
    try:
        store.blobs.put(notice.key, notice.encode(), create_only=True)
    except AlreadyExists:
        pass


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
