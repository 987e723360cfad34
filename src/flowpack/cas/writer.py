"""Writing new chunks: group them into frames, compress against bases, seal packs, upload.

Write order (the only order that keeps a crash invisible): every pack, then the index file
that lists them; the caller then moves a ref, which is the only commit point.  Frames are
compressed on a thread pool (zstd releases the GIL), and only chunks the index lacks are ever
compressed or sent.

Memory is bounded by the process's :class:`~flowpack.cas.memory.MemoryBudget`: frames between
``add`` and their pack stay within its ``in_flight`` share (``add`` drains finished frames into
the pack being assembled, waiting for the oldest when over), packs are assembled in a temporary
file (:class:`~flowpack.cas.pack.PackBuilder`) and are at most its ``packs`` share, and a new
pack waits for earlier uploads while they would hold more than that share.  A frame's bases
are admitted within one working set (:class:`~flowpack.cas.budget.BaseBudget`); a base over it
gives way to a shallower alternative (the same bytes at an older version, whose chain is
shorter) before the frame is compressed against fewer bases.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from flowpack.cas import codec
from flowpack.cas.bases import MAX_DEPTH
from flowpack.cas.budget import BaseBudget, base_work
from flowpack.cas.digest import Digest
from flowpack.cas.errors import AlreadyExists, UsageError
from flowpack.cas.frames import FrameSpan
from flowpack.cas.index import Index, IndexFile
from flowpack.cas.memory import MemoryBudget
from flowpack.cas.pack import (
    DATA,
    OBJECT,
    Frame,
    PackBuilder,
    SealedPack,
    encode_frame,
    split_frame,
)
from flowpack.cas.protocols import BlobStore
from flowpack.cas.reader import ChunkReader, pack_key
from flowpack.cas.spill import FrameSpill

#: Environment variable overriding :data:`PACK_TARGET` (bytes, at least 64 KiB), so that tests
#: can make small trees span several packs.
ENV_PACK_TARGET = "FLOWPACK_PACK_TARGET"
FRAME_TARGET = 256 << 10


def _pack_target(default: int = 16 << 20) -> int:
    text = os.environ.get(ENV_PACK_TARGET, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 64 << 10:
        raise UsageError(f"{ENV_PACK_TARGET} must be a number of bytes >= 65536, not {text!r}")
    return int(text)


PACK_TARGET = _pack_target()
MAX_DICT = 4 << 20
#: An uploaded pack as its index file lists it: its name and frames (records packed).
Packed = tuple[Digest, tuple[FrameSpan, ...]]


@dataclass
class WriteStats:
    """What one write session added to the store."""

    new_chunks: int = 0
    bytes_uploaded: int = 0
    packs_uploaded: int = 0
    index_files: list[str] = field(default_factory=list)
    #: Decoded bytes of old frames the session's compressions needed (cached or decoded).
    base_bytes_planned: int = 0
    #: Candidate bases left out because they would pass a frame's decode budget.
    bases_dropped: int = 0
    #: Raw bytes of the chunks whose frames are compressed so far (progress of a copy).
    bytes_compressed: int = 0
    #: Chunks compressed against a shallower alternative because their bases were over it.
    fallbacks_used: int = 0


#: One chunk's choices of bases, best first: the bases, then shallower alternatives.
Choices = tuple[tuple[Digest, ...], ...]


@dataclass
class _Pending:
    kind: int
    records: list[tuple[Digest, bytes]] = field(default_factory=list)
    choices: list[Choices] = field(default_factory=list)
    size: int = 0


class Writer:
    """One write session.  ``add`` from one thread; compression runs on ``workers`` threads."""

    def __init__(
        self,
        blobs: BlobStore,
        index: Index,
        reader: ChunkReader,
        *,
        level: int = codec.DEFAULT_LEVEL,
        workers: int = 2,
        pack_target: int = PACK_TARGET,
        frame_target: int = FRAME_TARGET,
        first_format: bool = False,
    ) -> None:
        self.blobs = blobs
        self.first_format = first_format  # packs for a flowpack.store.v1 store
        self.index = index
        self.reader = reader
        self.level = level
        self.frame_target = frame_target
        self.stats = WriteStats()
        self.budget: MemoryBudget = reader.budget
        self.pack_target = min(pack_target, self.budget.packs)
        self._seen: set[bytes] = set()
        self._pending: dict[int, _Pending] = {}
        self._frames: deque[tuple[Future[Frame], int]] = deque()
        self._frames_bytes = 0
        self._builder: PackBuilder | None = None
        self._spill: FrameSpill | None = None  # made by the first frame with bases
        self._uploads: list[Future[Packed]] = []
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="flowpack-zstd")
        self._io = ThreadPoolExecutor(
            max(1, min(8, blobs.capabilities.max_connections)), thread_name_prefix="flowpack-io"
        )
        self._lock = threading.Lock()
        self._bases_lock = threading.Lock()
        #: One compression against a dictionary at a time: its zstd context is the largest
        #: (about 6 MiB, see ``codec.DICT_HASH_LOG``); frames without bases run in parallel.
        self._dict_lock = threading.Lock()

    def has(self, digest: Digest) -> bool:
        """Whether the store or this session already holds ``digest``."""
        return digest.size == 0 or digest.raw in self._seen or digest in self.index

    def add(
        self,
        digest: Digest,
        data: bytes,
        *,
        kind: int = DATA,
        bases: Sequence[Digest] = (),
        fallbacks: Sequence[Sequence[Digest]] = (),
    ) -> bool:
        """Queue a chunk unless it is already stored; returns whether it was new.

        ``bases`` are stored chunks to compress it against; ``fallbacks`` are shallower
        alternatives, best first, tried when the bases do not fit the frame's working set.
        """
        if self.has(digest):
            return False
        self._seen.add(digest.raw)
        self.stats.new_chunks += 1
        pend = self._pending.setdefault(kind, _Pending(kind))
        pend.records.append((digest, data))
        pend.size += len(data)
        choices = tuple(
            usable
            for alt in (bases, *fallbacks)
            if (usable := tuple(b for b in alt if b in self.index))  # never a condemned pack
        )
        if choices:
            pend.choices.append(choices)
        if pend.size >= self.frame_target:
            self._seal(kind)
        return True

    def seal(self, kind: int) -> None:
        """Close the open frame of ``kind`` now (e.g. to keep a manifest in a frame alone)."""
        self._seal(kind)

    def _seal(self, kind: int) -> None:
        pend = self._pending.pop(kind, None)
        if pend is None or not pend.records:
            return
        self._frames.append((self._pool.submit(self._encode, pend), pend.size))
        self._frames_bytes += pend.size
        self.budget.hold(pend.size)
        self._drain(everything=False)

    def _drain(self, *, everything: bool) -> None:
        """Move compressed frames, oldest first, into the pack being assembled: those done,
        and the oldest pending ones while the frames in flight exceed the budget's share."""
        while self._frames and (
            everything or self._frames[0][0].done() or self._frames_bytes > self.budget.in_flight
        ):
            fut, size = self._frames.popleft()
            try:
                header, payload, records = fut.result()
            finally:
                self._frames_bytes -= size
                self.budget.release(size)
            if self._builder is None:
                self._builder = PackBuilder(first_format=self.first_format)
            self._builder.add(header, payload, records)
            if self._builder.size >= self.pack_target:
                self._upload()

    def _encode(self, pend: _Pending) -> Frame:
        """Compress one frame against the bases that fit its depth, size and decode budgets."""
        budget = BaseBudget(self.reader, base_work(self.budget))
        with self._bases_lock:  # one frame's bases read at a time
            try:
                bases = self._choose(pend.choices, budget)
                dictionary = self._dictionary(bases)
            finally:
                budget.release()
        with self._lock:
            self.stats.base_bytes_planned += budget.used
        depth = max((loc.depth + 1 for b in bases if (loc := self.index.get(b))), default=0)
        context = codec.context_size(self.level, pend.size, len(dictionary))
        with self._dict_lock if dictionary else contextlib.nullcontext():
            self.budget.hold(context)
            try:
                frame = self._compress(pend, bases, dictionary, depth)
            finally:
                self.budget.release(context)
        with self._lock:
            self.stats.bytes_compressed += pend.size
        return frame

    def _dictionary(self, bases: list[Digest]) -> bytes:
        """The bases' bytes, read as a planned read: frames of their base tree that the
        reader's cache cannot hold go to the session's spill, so each is decoded once
        (however far the tree exceeds the cache: :func:`~flowpack.cas.budget.base_work`)."""
        if not bases:
            return b""
        if self._spill is None:
            self._spill = FrameSpill()  # a private temporary folder, made if it spills
        plan = self.reader.plan(bases, self._spill)
        try:
            return b"".join(self.reader.get(b) for b in bases)
        finally:
            self.reader.unplan(plan)

    def _compress(
        self, pend: _Pending, bases: list[Digest], dictionary: bytes, depth: int
    ) -> Frame:
        return encode_frame(
            pend.kind,
            pend.records,
            bases=bases,
            dictionary=dictionary,
            depth=depth,
            level=self.level,
        )

    def _choose(self, choices: list[Choices], budget: BaseBudget) -> list[Digest]:
        """The bases of one frame: for each chunk, its first choice of bases that fits the
        working set whole; else those of its bases that fit one by one.  At most
        :data:`MAX_DICT` bytes, each base at most ``MAX_DEPTH - 1`` deep."""
        chosen: dict[Digest, None] = {}
        room = MAX_DICT
        dropped = fallbacks = 0
        for alts in choices:
            for k, alt in enumerate(alts):
                new = [b for b in alt if b not in chosen]
                if (
                    sum(b.size for b in new) <= room
                    and self._shallow(new)
                    and budget.admit_set(new)
                ):
                    chosen.update(dict.fromkeys(new))
                    room -= sum(b.size for b in new)
                    fallbacks += k > 0
                    break
            else:
                for b in alts[0]:
                    if b in chosen:
                        continue
                    if b.size <= room and self._shallow([b]) and budget.admit(b):
                        chosen[b] = None
                        room -= b.size
                    else:
                        dropped += 1
        with self._lock:
            self.stats.bases_dropped += dropped
            self.stats.fallbacks_used += fallbacks
        return list(chosen)

    def _shallow(self, bases: list[Digest]) -> bool:
        return all(
            (loc := self.index.get(b)) is not None and loc.depth + 1 <= MAX_DEPTH for b in bases
        )

    def _upload(self) -> None:
        """Upload the pack being assembled, after earlier uploads while they hold too much."""
        builder, self._builder = self._builder, None
        if builder is None or not len(builder):
            return
        while sum(not f.done() for f in self._uploads) * self.pack_target >= self.budget.packs:
            next(f for f in self._uploads if not f.done()).result()
        self._uploads.append(self._io.submit(self._put_pack, builder))

    def _put_pack(self, builder: PackBuilder) -> Packed:
        pack = builder.build()
        self.budget.hold(len(pack.data))
        try:
            return self._store_pack(pack)
        finally:
            self.budget.release(len(pack.data))

    def _store_pack(self, pack: SealedPack) -> Packed:
        try:
            self.blobs.put(pack_key(pack.digest), pack.data, create_only=True)
        except AlreadyExists:
            # An identical pack exists: one a crashed push left unindexed, or one gc has
            # condemned.  gc may be deleting it right now, so never rely on it: make this
            # pack distinct with a nonce frame and store that instead.
            again = PackBuilder(first_format=self.first_format)
            for fr in pack.frames:
                again.add(*split_frame(pack.data[fr.offset : fr.offset + fr.length]), fr.digests())
            again.add(*encode_frame(OBJECT, [_nonce()]))
            pack = again.build()
            self.blobs.put(pack_key(pack.digest), pack.data, create_only=True)
        with self._lock:
            self.stats.bytes_uploaded += len(pack.data)
            self.stats.packs_uploaded += 1
        cache = self.reader.frame_cache
        if cache is not None:  # the next push compresses against these: no need to read back
            for fr in pack.frames:
                cache.put(pack.digest.hex, fr.offset, pack.data[fr.offset : fr.offset + fr.length])
        return pack.digest, pack.frames

    def finish(self) -> IndexFile | None:
        """Upload everything queued, then the index file.  Returns the index written, if any."""
        try:
            for kind in list(self._pending):
                self._seal(kind)
            self._drain(everything=True)
            self._upload()
            entries = [f.result() for f in self._uploads]
        finally:
            self._pool.shutdown(wait=True)
            self._io.shutdown(wait=True)
            self._drop()
        if not entries:
            return None
        idx = IndexFile(tuple(entries))
        data = idx.encode()
        name = Digest.of(data).hex
        try:
            self.blobs.put(f"index/{name}", data, create_only=True)
            self.stats.bytes_uploaded += len(data)
        except AlreadyExists:
            pass
        self.stats.index_files.append(name)
        self.index.add_file(idx)
        return idx

    def abort(self) -> None:
        """Drop queued work; packs already uploaded stay invisible until gc removes them."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._io.shutdown(wait=True, cancel_futures=True)
        self._drop()

    def _drop(self) -> None:
        """Give back what frames still in flight held, the pack being assembled and the
        spill."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self.budget.release(self._frames_bytes)
        self._frames_bytes = 0
        self._frames.clear()
        if self._builder is not None:
            self._builder.close()
            self._builder = None


def _nonce() -> tuple[Digest, bytes]:
    data = b"flowpack-nonce:" + os.urandom(16)
    return Digest.of(data), data
