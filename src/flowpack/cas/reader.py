"""Reading chunks back: fetch frames, decode them against their bases, verify every record.

Every chunk handed out has been re-hashed against its digest; a mismatch raises
:class:`CorruptObject` naming the chunk and its pack.  Decoded frames are kept in an LRU cache
that keeps what the process's :class:`~flowpack.cas.memory.MemoryBudget` leaves (at least one
working set), and :meth:`ChunkReader.prefetch` fetches the frames a batch of chunks needs with
one ranged read per run of nearby frames, so requests grow with packs, not chunks; raw frames
read ahead count against the budget's ``read_ahead`` until decoded.  A reader told what it is
about to read (:meth:`ChunkReader.plan`, as a restore is) keeps the frames those reads need
over the others when the cache is full, so a frame decoded early as another's base is still
there when its own files come.  Where the location
declares no ``range_reads``, a pack is read whole once, kept within the budget's ``packs``
(at least the last one), and frames are sliced from it (see :mod:`flowpack.cas.guards`).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from flowpack.cas import codec
from flowpack.cas.digest import Digest
from flowpack.cas.errors import CorruptObject, IntegrityError, NotFound
from flowpack.cas.index import Index, Location
from flowpack.cas.localcache import FrameCache
from flowpack.cas.memory import MemoryBudget, process_budget
from flowpack.cas.pack import split_frame, split_records
from flowpack.cas.protocols import BlobStore
from flowpack.cas.spill import FrameSpill

if TYPE_CHECKING:
    from flowpack.cas.content import Progress
    from flowpack.cas.readplan import ReadPlan

#: Gaps smaller than this between wanted frames are read rather than split into two requests.
COALESCE_GAP = 256 << 10
MAX_DEPTH_READ = 64
#: Frames decoded for one top-level read, by (pack, offset): see ``ChunkReader._decode``.
_Memo = dict[tuple[str, int], dict[bytes, bytes]]


#: What a decoded record costs in memory besides its bytes: the bytes object, its 32-byte key
#: and the dict slot (a frame of 6,500 tiny files' records held 4 times its data).
RECORD_OVERHEAD = 160


def held_size(records: dict[bytes, bytes]) -> int:
    """The memory a decoded frame holds, as the budget counts it."""
    return sum(len(v) for v in records.values()) + len(records) * RECORD_OVERHEAD


def pack_key(pack: Digest) -> str:
    return f"packs/{pack.hex}"


class ChunkReader:
    """Verified chunk reads through an index.  Thread-safe."""

    def __init__(self, blobs: BlobStore, index: Index, budget: MemoryBudget | None = None) -> None:
        self.blobs = blobs
        self.budget = budget or process_budget()
        self.index = index
        self._lock = threading.RLock()
        self._frames: OrderedDict[tuple[str, int], dict[bytes, bytes]] = OrderedDict()
        self._raw: dict[tuple[str, int], bytes] = {}
        self._bases: dict[tuple[str, int], tuple[Digest, ...]] = {}
        self._sizes: dict[tuple[str, int], int] = {}  # decoded sizes of frames planned
        self._cached = 0
        self._planned: Counter[tuple[str, int]] = Counter()  # reads to come, by frame
        self._spill: FrameSpill | None = None
        self._spill_all = False  # whether evicted frames no plan needs are kept there too
        self._ranged = blobs.capabilities.range_reads
        self._packs: OrderedDict[str, bytes] = OrderedDict()  # whole packs, without ranges
        self._packs_bytes = 0
        #: Local copies of a remote store's frames (set by the Store when the backend is remote).
        self.frame_cache: FrameCache | None = None

    def get(self, digest: Digest) -> bytes:
        """The verified bytes of chunk ``digest``; :class:`NotFound` if the index lacks it."""
        if digest.size == 0:
            return b""
        loc = self.index.get(digest)
        if loc is None:
            raise NotFound(f"object {digest} is not in the store")
        data = self._record(loc, digest.raw, 0, None)
        if data is None:
            raise CorruptObject(
                f"pack {loc.pack} is damaged: its frame at {loc.frame_offset} does not hold "
                f"object {digest}",
                digest,
            )
        if self._planned:
            self._consume({(loc.pack.hex, loc.frame_offset): 1})
        return data

    def plan(
        self,
        digests: Iterable[Digest],
        spill: Path | FrameSpill | None = None,
        progress: Progress | None = None,
    ) -> ReadPlan:
        """Note that ``digests`` are about to be read: until each is, the frames they live in
        and the bases those frames are decoded against are the last the cache evicts, and
        with a ``spill`` directory (or a :class:`FrameSpill` the caller keeps across plans),
        such a frame evicted is kept there (see :mod:`flowpack.cas.spill`), so that each is
        decoded once.  Reads every frame header
        of that base tree once (see :func:`flowpack.cas.readplan.plan_reads`, which reports
        to ``progress``).  Returns the plan, for :meth:`unplan`."""
        from flowpack.cas.readplan import ReadPlan, plan_reads

        planned, wanted = plan_reads(self, digests, progress, self._plan_limit())
        with self._lock:
            self._planned += planned
            if spill is None or self._spill is not None:  # one spill at a time: the first
                return ReadPlan(planned, None)
            owned = not isinstance(spill, FrameSpill)
            self._spill = FrameSpill(spill) if isinstance(spill, Path) else spill
            self._spill.wanted |= wanted
            self._spill_all = not owned  # a spill kept across plans keeps what it is given
        return ReadPlan(planned, self._spill, owned)

    def _plan_limit(self) -> int | None:
        """Bytes of frames a plan may read ahead: any from a local store, half the frame
        cache from a remote one (so none is downloaded twice), none without a cache."""
        if not self.blobs.capabilities.remote:
            return None
        return self.frame_cache.limit // 2 if self.frame_cache is not None else 0

    def knows(self, key: tuple[str, int]) -> bool:
        """Whether the header of the frame at ``key`` has been read (its bases are known)."""
        with self._lock:
            return key in self._bases and (key in self._sizes or key in self._frames)

    def take_raw(self, key: tuple[str, int]) -> bytes | None:
        """Take back the raw frame at ``key`` read ahead and not decoded, if any."""
        with self._lock:
            return self._unstash(key)

    def unplan(self, plan: ReadPlan) -> None:
        """Forget the reads of ``plan`` not made yet, the frames it kept on disk, and raw
        frames read ahead for reads that did not happen (a read that failed half-way)."""
        self._consume(plan.reads)
        with self._lock:
            for key in [k for k in self._raw if k in plan.reads]:
                self._unstash(key)
        if plan.spill is not None:
            with self._lock:
                self._spill = None
            if plan.owned:
                plan.spill.close()

    def _consume(self, reads: dict[tuple[str, int], int]) -> None:
        with self._lock:
            for key, n in reads.items():
                left = self._planned.get(key, 0) - n
                if left > 0:
                    self._planned[key] = left
                else:
                    self._planned.pop(key, None)

    def prefetch(self, digests: Iterable[Digest]) -> None:
        """Fetch, with coalesced ranged reads, the raw frames that ``digests`` live in, in
        their order and up to the budget's ``read_ahead`` bytes (the rest is read on decode)."""
        self.prefetch_frames(self.index.get(d) for d in digests)

    def prefetch_frames(self, locs: Iterable[Location | None]) -> None:
        """:meth:`prefetch` of the frames at ``locs`` (None: not in the store, skipped)."""
        wanted: dict[str, set[tuple[int, int]]] = {}
        room, taken = self.budget.read_ahead, 0
        for loc in locs:
            key = (loc.pack.hex, loc.frame_offset) if loc is not None else None
            if (
                loc is None
                or key in self._frames
                or key in self._raw
                or (self.frame_cache and self.frame_cache.has(loc.pack.hex, loc.frame_offset))
            ):
                continue
            span = (loc.frame_offset, loc.frame_length)
            if span not in wanted.get(loc.pack.hex, ()):
                if taken and room < loc.frame_length:
                    break  # the window is full: the rest is read when decoded
                wanted.setdefault(loc.pack.hex, set()).add(span)
                room -= loc.frame_length
                taken += 1
        for pack_hex, spans in wanted.items():
            ordered = sorted(spans)
            run = [ordered[0]]
            for span in ordered[1:]:
                end = run[-1][0] + run[-1][1]
                if span[0] - end <= COALESCE_GAP:
                    run.append(span)
                else:
                    self._fetch_run(pack_hex, run)
                    run = [span]
            self._fetch_run(pack_hex, run)

    def _fetch_run(self, pack_hex: str, run: list[tuple[int, int]]) -> None:
        start = run[0][0]
        end = max(o + n for o, n in run)
        data = self._read(pack_hex, start, end - start)
        with self._lock:
            for o, n in run:
                self._stash((pack_hex, o), data[o - start : o - start + n])

    def _stash(self, key: tuple[str, int], raw: bytes) -> None:
        """Keep a raw frame for its decode (counted as held).  Call with the lock held."""
        old = self._raw.get(key)
        self._raw[key] = raw
        self.budget.hold(len(raw) - (len(old) if old is not None else 0))

    def _unstash(self, key: tuple[str, int]) -> bytes | None:
        """Take a raw frame kept for its decode, if any.  Call with the lock held."""
        raw = self._raw.pop(key, None)
        if raw is not None:
            self.budget.release(len(raw))
        return raw

    def _read(self, pack_hex: str, offset: int, length: int) -> bytes:
        try:
            if self._ranged:
                data = self.blobs.get(f"packs/{pack_hex}", offset, length)
            else:
                data = self._whole(pack_hex)[offset : offset + length]
        except NotFound as exc:
            raise CorruptObject(f"pack blake3:{pack_hex} is missing", pack_hex) from exc
        if len(data) != length:
            raise CorruptObject(f"pack blake3:{pack_hex} is truncated", pack_hex)
        return data

    def _whole(self, pack_hex: str) -> bytes:
        """Pack ``pack_hex`` read whole (for a location without range reads), cached."""
        with self._lock:
            data = self._packs.get(pack_hex)
            if data is not None:
                self._packs.move_to_end(pack_hex)
                return data
        data = self.blobs.get(f"packs/{pack_hex}")
        with self._lock:
            if pack_hex not in self._packs:
                self._packs[pack_hex] = data
                self._packs_bytes += len(data)
                self.budget.hold(len(data))
            while self._packs_bytes > self.budget.packs and len(self._packs) > 1:
                _, old = self._packs.popitem(last=False)
                self._packs_bytes -= len(old)
                self.budget.release(len(old))
        return data

    def _record(self, loc: Location, raw: bytes, depth: int, memo: _Memo | None) -> bytes | None:
        """Record ``raw`` of the frame at ``loc``: from a decoded frame at hand, else from the
        spill of a planned read, else by decoding the frame."""
        key = (loc.pack.hex, loc.frame_offset)
        if self._spill is not None and (memo is None or key not in memo):
            with self._lock:
                kept = self._spill.get(raw) if key not in self._frames else None
                if kept is not None:
                    self._unstash(key)  # a raw frame read ahead for it is not needed now
                    return kept
        return self._decoded(loc, depth, memo, raw).get(raw)

    def _decoded(
        self, loc: Location, depth: int, memo: _Memo | None = None, want: bytes | None = None
    ) -> dict[bytes, bytes]:
        """The records of the frame at ``loc``, keyed by their hashes; a local copy that does
        not hold ``want`` is dropped and the store read instead."""
        key = (loc.pack.hex, loc.frame_offset)
        if memo is not None and key in memo:
            return memo[key]
        with self._lock:
            raw = self._unstash(key)  # read ahead for this decode, or not needed if cached
            hit = self._frames.get(key)
            if hit is not None:
                self._frames.move_to_end(key)
                return hit
        if depth > MAX_DEPTH_READ:
            raise CorruptObject(f"delta chain too deep in pack {loc.pack}", loc.pack)
        cache = self.frame_cache
        if raw is None and cache is not None:
            cached = cache.get(loc.pack.hex, loc.frame_offset, loc.frame_length)
            if cached is not None:
                try:
                    held: dict[bytes, bytes] | None = self._decode(loc, cached, depth, memo)
                except CorruptObject:
                    held = None
                if held is not None and (want is None or want in held):
                    return self._keep(key, held, memo)
                cache.drop(loc.pack.hex, loc.frame_offset)  # damaged: drop it, read the store
        if raw is None:
            raw = self._read(loc.pack.hex, loc.frame_offset, loc.frame_length)
        records = self._decode(loc, raw, depth, memo)
        if cache is not None and (want is None or want in records):
            cache.put(loc.pack.hex, loc.frame_offset, raw)
        return self._keep(key, records, memo)

    def _keep(
        self, key: tuple[str, int], records: dict[bytes, bytes], memo: _Memo | None
    ) -> dict[bytes, bytes]:
        if memo is not None and (self._spill is None or key not in self._planned):
            memo[key] = records  # a planned frame is held by the cache, else by the spill
        with self._lock:
            hit = self._frames.get(key)
            if hit is not None:  # another thread decoded it meanwhile: count it once
                self._frames.move_to_end(key)
                return hit
            self._frames[key] = records
            size = held_size(records)
            self._cached += size
            self.budget.cache(size)
            while self.budget.caches_over() and len(self._frames) > 1:
                victim = self._victim(key)
                old = self._frames.pop(victim)
                if self._spill is not None and (self._spill_all or victim in self._planned):
                    self._spill.put(old)
                size = held_size(old)
                self._cached -= size
                self.budget.cache(-size)
            return records

    def _victim(self, added: tuple[str, int]) -> tuple[str, int]:
        """The cached frame to evict: the least recently used that no planned read needs,
        else the least recently used; never ``added`` while another is cached."""
        first = None
        for key in self._frames:
            if key == added:
                continue
            if key not in self._planned:
                return key
            first = first or key
        assert first is not None  # more than one frame is cached
        return first

    def _decode(
        self, loc: Location, raw: bytes, depth: int, memo: _Memo | None = None
    ) -> dict[bytes, bytes]:
        """Decode and verify one frame, its bases first.  ``memo`` holds every frame decoded
        for the same top-level read, so that however small the cache is (other readers of
        the process share its budget), no frame of one base tree is decoded twice: the work
        stays linear in the tree, never exponential in its depth."""
        where = f"pack {loc.pack} (frame at {loc.frame_offset})"
        try:
            header, payload = split_frame(raw)
            with self._lock:
                self._bases[(loc.pack.hex, loc.frame_offset)] = header.bases
            if header.bases and memo is None:
                memo = {}
            dictionary = b"".join(self._base(b, depth, memo) for b in header.bases)
            data = codec.decompress(header.codec, payload, header.raw_size, dictionary=dictionary)
            # keyed by hash: what each record is
            return {h: bytes(piece) for h, piece in split_records(header, data)}
        except IntegrityError as exc:
            if isinstance(exc, CorruptObject):
                raise
            raise CorruptObject(f"{where} is damaged: {exc}", loc.pack) from exc

    def _base(self, base: Digest, depth: int, memo: _Memo | None) -> bytes:
        loc = self.index.get(base)
        if loc is None:
            raise CorruptObject(f"base object {base} of a delta is missing", base)
        rec = self._record(loc, base.raw, depth + 1, memo)
        if self._planned:
            self._consume({(loc.pack.hex, loc.frame_offset): 1})
        if rec is None:
            raise CorruptObject(
                f"pack {loc.pack} is damaged: its frame at {loc.frame_offset} does not hold "
                f"base object {base}",
                base,
            )
        return rec

    def bases_of(self, digest: Digest) -> tuple[Digest, ...]:
        """The base chunks the frame holding ``digest`` was compressed against."""
        loc = self.index.get(digest)
        if loc is None:
            raise NotFound(f"object {digest} is not in the store")
        key = (loc.pack.hex, loc.frame_offset)
        if key not in self._bases:
            self._decoded(loc, 0)
        return self._bases.get(key, ())

    def frame_plan(self, loc: Location) -> tuple[int, tuple[Digest, ...], bool] | None:
        """(decoded size, bases, whether a raw frame was kept) of the frame at ``loc``, for
        :class:`flowpack.cas.budget.BaseBudget`; None if its header cannot be read.

        A cached frame is touched (so it outlives the decode that needs it); a frame read from
        the store is kept for that decode (:meth:`unstash` drops it if it is not decoded).
        Thread-safe.
        """
        key = (loc.pack.hex, loc.frame_offset)
        with self._lock:
            hit = self._frames.get(key)
            if hit is not None and key in self._bases:
                self._frames.move_to_end(key)
                return held_size(hit), self._bases[key], False
            size = self._sizes.get(key)
            if size is not None:  # planned before (its raw frame is read again to decode)
                return size, self._bases[key], False
            raw = self._raw.get(key)
        stash = False
        if raw is None:
            cache = self.frame_cache
            raw = cache.get(loc.pack.hex, loc.frame_offset, loc.frame_length) if cache else None
            if raw is None:  # a frame-cache copy is read again (and checked) by the decode
                try:
                    raw = self._read(loc.pack.hex, loc.frame_offset, loc.frame_length)
                except IntegrityError:
                    return None
                stash = True
        try:
            header, _ = split_frame(raw)
        except IntegrityError:
            return None
        with self._lock:
            if stash:
                self._stash(key, raw)
            self._bases[key] = header.bases
            self._sizes[key] = size = header.raw_size + len(header.sizes) * RECORD_OVERHEAD
        return size, header.bases, stash

    def unstash(self, keys: Iterable[tuple[str, int]]) -> None:
        """Drop raw frames kept by :meth:`frame_plan` and not decoded since."""
        with self._lock:
            for key in keys:
                self._unstash(key)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            for key in list(self._raw):
                self._unstash(key)
            self.budget.cache(-self._cached)
            self._cached = 0
            self._packs.clear()
            self.budget.release(self._packs_bytes)
            self._packs_bytes = 0
