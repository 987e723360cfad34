"""Writing new chunks: group them into frames, compress against bases, seal packs, upload.

Write order (the only order that keeps a crash invisible): every pack, then the index file
that lists them; the caller then moves a ref, which is the only commit point.  Frames are
compressed on a thread pool (zstd releases the GIL), and only chunks the index lacks are ever
compressed or sent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from flowpack.cas import codec
from flowpack.cas.bases import MAX_DEPTH
from flowpack.cas.budget import BaseBudget
from flowpack.cas.digest import Digest
from flowpack.cas.errors import AlreadyExists, UsageError
from flowpack.cas.index import Index, IndexFile, PackEntry
from flowpack.cas.pack import DATA, OBJECT, FrameHeader, PackBuilder, encode_frame
from flowpack.cas.protocols import BlobStore
from flowpack.cas.reader import ChunkReader, pack_key

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


@dataclass
class _Pending:
    kind: int
    records: list[tuple[Digest, bytes]] = field(default_factory=list)
    bases: dict[Digest, None] = field(default_factory=dict)
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
    ) -> None:
        self.blobs = blobs
        self.index = index
        self.reader = reader
        self.level = level
        self.pack_target = pack_target
        self.frame_target = frame_target
        self.stats = WriteStats()
        self._seen: set[bytes] = set()
        self._pending: dict[int, _Pending] = {}
        self._frames: list[Future[tuple[FrameHeader, bytes]]] = []
        self._frames_bytes = 0
        self._uploads: list[Future[PackEntry]] = []
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="flowpack-zstd")
        self._io = ThreadPoolExecutor(
            max(1, min(8, blobs.capabilities.max_connections)), thread_name_prefix="flowpack-io"
        )
        self._lock = threading.Lock()
        self._bases_lock = threading.Lock()

    def has(self, digest: Digest) -> bool:
        """Whether the store or this session already holds ``digest``."""
        return digest.size == 0 or digest.raw in self._seen or digest in self.index

    def add(
        self, digest: Digest, data: bytes, *, kind: int = DATA, bases: Sequence[Digest] = ()
    ) -> bool:
        """Queue a chunk unless it is already stored; returns whether it was new."""
        if self.has(digest):
            return False
        self._seen.add(digest.raw)
        self.stats.new_chunks += 1
        pend = self._pending.setdefault(kind, _Pending(kind))
        pend.records.append((digest, data))
        pend.size += len(data)
        for b in bases:
            if b in self.index and self.index.get(b) is not None:
                pend.bases[b] = None
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
        self._frames.append(self._pool.submit(self._encode, pend))
        self._frames_bytes += pend.size
        if self._frames_bytes >= self.pack_target:
            self._flush_pack(final=False)

    def _encode(self, pend: _Pending) -> tuple[FrameHeader, bytes]:
        """Compress one frame against the bases that fit its depth, size and decode budgets."""
        candidates: list[Digest] = []
        total = 0
        for b in pend.bases:
            loc = self.index.get(b)
            if loc is None or loc.depth + 1 > MAX_DEPTH or total + b.size > MAX_DICT:
                continue
            candidates.append(b)
            total += b.size
        budget = BaseBudget(self.reader)
        with self._bases_lock:  # one working set in the reader's cache at a time
            try:
                bases = budget.admit_all(candidates)
                dictionary = b"".join(self.reader.get(b) for b in bases)
            finally:
                budget.release()
        with self._lock:
            self.stats.base_bytes_planned += budget.used
            self.stats.bases_dropped += len(candidates) - len(bases)
        depth = max((loc.depth + 1 for b in bases if (loc := self.index.get(b))), default=0)
        frame = encode_frame(
            pend.kind,
            pend.records,
            bases=bases,
            dictionary=dictionary,
            depth=depth,
            level=self.level,
        )
        with self._lock:
            self.stats.bytes_compressed += pend.size
        return frame

    def _flush_pack(self, *, final: bool) -> None:
        builder = PackBuilder()
        done = 0
        for fut in self._frames:
            header, payload = fut.result()
            builder.add(header, payload)
            done += 1
            if builder.size >= self.pack_target and (done < len(self._frames) or final):
                self._upload(builder)
                builder = PackBuilder()
        self._frames = []
        self._frames_bytes = 0
        if len(builder):
            self._upload(builder)

    def _upload(self, builder: PackBuilder) -> None:
        self._uploads.append(self._io.submit(self._put_pack, builder))

    def _put_pack(self, builder: PackBuilder) -> PackEntry:
        pack = builder.build()
        try:
            self.blobs.put(pack_key(pack.digest), pack.data, create_only=True)
        except AlreadyExists:
            # An identical pack exists: one a crashed push left unindexed, or one gc has
            # condemned.  gc may be deleting it right now, so never rely on it: make this
            # pack distinct with a nonce frame and store that instead.
            builder.add(*encode_frame(OBJECT, [_nonce()]))
            pack = builder.build()
            self.blobs.put(pack_key(pack.digest), pack.data, create_only=True)
        with self._lock:
            self.stats.bytes_uploaded += len(pack.data)
            self.stats.packs_uploaded += 1
        cache = self.reader.frame_cache
        if cache is not None:  # the next push compresses against these: no need to read back
            for fr in pack.frames:
                cache.put(pack.digest.hex, fr.offset, pack.data[fr.offset : fr.offset + fr.length])
        return PackEntry(pack.digest, pack.frames)

    def finish(self) -> IndexFile | None:
        """Upload everything queued, then the index file.  Returns the index written, if any."""
        try:
            for kind in list(self._pending):
                self._seal(kind)
            self._flush_pack(final=True)
            entries = [f.result() for f in self._uploads]
        finally:
            self._pool.shutdown(wait=True)
            self._io.shutdown(wait=True)
        if not entries:
            return None
        idx = IndexFile.of(entries)
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


def _nonce() -> tuple[Digest, bytes]:
    data = b"flowpack-nonce:" + os.urandom(16)
    return Digest.of(data), data
