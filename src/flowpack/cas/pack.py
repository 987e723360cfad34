"""Packs: the immutable unit of upload.

Layout (all integers little-endian)::

    b"FPACK001"                                magic
    frame*                                     see below
    trailer                                    zstd(msgpack([[offset, length, kind, depth]...]))
    u32 trailer length, b"FPIDX002"            so one ranged read of the tail lays out the pack

    frame  = u32 header length, header, payload
    header = msgpack [kind, codec, raw size, stored size, depth, [base...], [record size...]]
             base = [32-byte blake3, size]

A frame is one zstd stream over the concatenated records it holds, optionally compressed
against a raw-content dictionary made of its *base* chunks (typically the previous version of
the same files).  ``depth`` is 0 without bases, else one more than the deepest base frame;
writers bound it so a read never decodes a long chain.  A pack is named by the blake3 of all
its bytes, so a damaged or truncated pack is detected by name alone.

A record's digest is the blake3 of its bytes, so the header lists each record's size only: a
reader hashes every record it decodes (it must, to verify it) and so learns its digest.  The
index file (:mod:`flowpack.cas.index`) lists the digests, for clients that never read the pack;
``verify`` checks that each frame's records hash to what the index says.  A pack thus writes
no chunk digest at all, the frame headers' bases aside.

The *first format* (stores of format ``flowpack.store.v1``, and every export, which any
version imports) lists each record as ``[32-byte blake3, size]`` in its header and again in a
trailer of magic ``FPIDX001`` (``[[offset, length, kind, depth, [record...]], ...]``).  Readers
read both formats, and check a first-format header's digests against its records' hashes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

import blake3
import msgpack

from flowpack.cas import codec
from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData
from flowpack.cas.frames import SPAN_RECORD, FrameEntry, FrameSpan

MAGIC = b"FPACK001"
TRAILER_MAGIC = b"FPIDX002"
#: The first trailer, which also listed each frame's records (read, never written).
TRAILER_V1 = b"FPIDX001"
TRAILER = struct.Struct("<I8s")
U32 = struct.Struct("<I")
MAX_HEADER = 64 << 20
MAX_FRAME_RAW = 256 << 20

#: Where a frame lies in its pack, as a trailer says: offset, length, kind, depth.
Slot = tuple[int, int, int, int]

#: Frame kinds.
DATA = 0
MANIFEST = 1
OBJECT = 2


@dataclass(frozen=True)
class FrameHeader:
    """What a frame holds and how to decode it."""

    kind: int
    codec: int
    raw_size: int
    stored_size: int
    depth: int
    bases: tuple[Digest, ...]
    #: The size of each record, in order (their digests are the blake3 of their bytes).
    sizes: tuple[int, ...]
    #: The records' digests, when the header lists them (first format); else empty.
    listed: tuple[Digest, ...] = ()

    def encode(self, records: Sequence[Digest] | None = None) -> bytes:
        """The header's bytes; with ``records``, in the first format (each record's digest
        listed beside its size)."""
        recs: list[Any] = list(self.sizes)
        if records is not None:
            recs = [[r.raw, r.size] for r in records]
        body: bytes = msgpack.packb(
            [
                self.kind,
                self.codec,
                self.raw_size,
                self.stored_size,
                self.depth,
                [[b.raw, b.size] for b in self.bases],
                recs,
            ],
            use_bin_type=True,
        )
        return U32.pack(len(body)) + body

    @classmethod
    def decode(cls, body: bytes) -> FrameHeader:
        try:
            kind, cod, raw, stored, depth, bases, recs = msgpack.unpackb(body, raw=False)
            sizes, listed = _records(recs)
            h = cls(
                int(kind),
                int(cod),
                int(raw),
                int(stored),
                int(depth),
                tuple(Digest.from_raw(b, s) for b, s in bases),
                sizes,
                listed,
            )
        except (ValueError, TypeError, msgpack.ExtraData) as exc:
            raise MalformedData(f"frame header does not decode: {exc}") from exc
        if sum(h.sizes) != h.raw_size or h.raw_size > MAX_FRAME_RAW:
            raise MalformedData("frame header sizes are inconsistent")
        return h


def _records(recs: list[Any]) -> tuple[tuple[int, ...], tuple[Digest, ...]]:
    """A header's records: sizes, or (first format) ``[digest, size]`` pairs, never a mix."""
    if all(type(r) is int for r in recs):
        if min(recs, default=0) < 0:
            raise ValueError("a negative record size")
        return tuple(recs), ()
    listed = tuple(Digest.from_raw(r, s) for r, s in recs)
    return tuple(d.size for d in listed), listed


@dataclass(frozen=True)
class SealedPack:
    """A finished pack: its bytes, name and frame list (records packed, as index files keep
    them: a pack of 100,000 tiny chunks holds no object per chunk)."""

    data: bytes
    digest: Digest
    frames: tuple[FrameSpan, ...]


class PackBuilder:
    """Appends encoded frames; :meth:`build` returns the sealed pack.  Not thread-safe.

    Frames go to an anonymous temporary file as they come, so a pack being assembled costs no
    memory; :meth:`build` reads it back once, as the one ``bytes`` an upload needs.
    ``first_format`` writes the first format (see the module docstring).
    """

    def __init__(self, *, first_format: bool = False) -> None:
        import tempfile  # only a writer assembles packs

        self.first_format = first_format
        self._spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by build
        self._spool.write(MAGIC)
        self._size = len(MAGIC)
        self._frames: list[FrameSpan] = []

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, header: FrameHeader, payload: bytes, records: Sequence[Digest]) -> None:
        """Append a frame; ``records`` are the digests of the records it holds, in order."""
        if tuple(r.size for r in records) != header.sizes:
            raise ValueError("a frame's records disagree with its header's sizes")
        head = header.encode(records if self.first_format else None)
        length = len(head) + len(payload)
        self._frames.append(
            FrameSpan.packing(self._size, length, header.kind, header.depth, records)
        )
        self._spool.write(head)
        self._spool.write(payload)
        self._size += len(head) + len(payload)

    def build(self) -> SealedPack:
        """The sealed pack (its bytes read back whole); the builder is spent."""
        doc = encode_layout(self._frames, records=self.first_format)
        trailer = codec.compress(doc)
        body = bytes([trailer.codec]) + trailer.payload
        magic = TRAILER_V1 if self.first_format else TRAILER_MAGIC
        with self._spool as spool:
            spool.write(body)
            spool.write(TRAILER.pack(len(body), magic))
            spool.flush()
            size = self._size + len(body) + TRAILER.size
            data = os.pread(spool.fileno(), size, 0)  # one allocation of the exact size
        if len(data) != size:
            raise OSError(f"a pack's temporary file gave back {len(data)} of {size} bytes")
        return SealedPack(data, Digest.of(data), tuple(self._frames))

    def close(self) -> None:
        """Drop the frames added (for a builder that is never built).  Idempotent."""
        self._spool.close()


#: A compressed frame: its header, its payload and the digests of its records.
Frame = tuple[FrameHeader, bytes, tuple[Digest, ...]]


def encode_frame(
    kind: int,
    records: Sequence[tuple[Digest, bytes]],
    *,
    bases: Sequence[Digest] = (),
    dictionary: bytes = b"",
    depth: int = 0,
    level: int = codec.DEFAULT_LEVEL,
) -> Frame:
    """Compress ``records`` as one frame; safe to call from many threads at once."""
    raw = b"".join(data for _, data in records)
    enc = codec.compress(raw, level=level, dictionary=dictionary if bases else b"")
    used = tuple(bases) if enc.codec == codec.ZSTD_DICT else ()
    header = FrameHeader(
        kind,
        enc.codec,
        len(raw),
        len(enc.payload),
        depth if used else 0,
        used,
        tuple(d.size for d, _ in records),
    )
    return header, enc.payload, tuple(d for d, _ in records)


def split_records(header: FrameHeader, data: bytes) -> list[tuple[bytes, memoryview]]:
    """The records of a frame decoded to ``data``, in order, each with its blake3 (its raw
    digest: what it is, not what a header claims), as views of ``data`` (a caller that keeps
    one copies it); :class:`MalformedData` if a first-format header lists another digest."""
    out: list[tuple[bytes, memoryview]] = []
    off = 0
    view = memoryview(data)
    for i, size in enumerate(header.sizes):
        piece = view[off : off + size]
        off += size
        digest = blake3.blake3(piece).digest()
        if header.listed and header.listed[i].raw != digest:
            raise MalformedData(f"object {header.listed[i]} does not match its digest")
        out.append((digest, piece))
    return out


def split_frame(frame: bytes) -> tuple[FrameHeader, bytes]:
    """Split a frame's bytes into its header and payload, checking the lengths."""
    if len(frame) < U32.size:
        raise MalformedData("truncated frame")
    (hlen,) = U32.unpack_from(frame)
    if hlen > MAX_HEADER or U32.size + hlen > len(frame):
        raise MalformedData("frame header length out of range")
    header = FrameHeader.decode(frame[U32.size : U32.size + hlen])
    payload = frame[U32.size + hlen :]
    if len(payload) != header.stored_size:
        raise MalformedData("frame payload length disagrees with its header")
    return header, payload


def read_trailer(tail: bytes, pack_size: int) -> tuple[int, bytes]:
    """From the last bytes of a pack, the offset and bytes of its trailer index (may be short).

    Returns ``(offset, body)`` where ``body`` is whatever part of the trailer ``tail`` holds;
    callers re-read when ``len(body)`` is smaller than ``pack_size - offset - TRAILER.size``.
    """
    if len(tail) < TRAILER.size:
        raise MalformedData("pack too short")
    length, magic = TRAILER.unpack(tail[-TRAILER.size :])
    if magic not in (TRAILER_MAGIC, TRAILER_V1) or length + TRAILER.size + len(MAGIC) > pack_size:
        raise MalformedData("pack trailer is damaged")
    offset = pack_size - TRAILER.size - length
    start = len(tail) - TRAILER.size - length
    return offset, tail[max(start, 0) : -TRAILER.size]


def encode_layout(frames: Sequence[FrameSpan], *, records: bool = False) -> bytes:
    """The msgpack encoding of a trailer: each frame's offset, length, kind and depth (and,
    in the first format, its records)."""
    doc: list[list[Any]] = [[f.offset, f.length, f.kind, f.depth] for f in frames]
    if records:
        for entry, f in zip(doc, frames, strict=True):
            entry.append([list(r) for r in SPAN_RECORD.iter_unpack(f.records)])
    out: bytes = msgpack.packb(doc, use_bin_type=True)
    return out


def decode_trailer(body: bytes) -> tuple[tuple[Slot, ...], tuple[tuple[Digest, ...], ...] | None]:
    """A pack's trailer: the frame layout, in its order, and (first format) each frame's
    records as the trailer lists them, else None."""
    if not body:
        raise MalformedData("empty pack trailer")
    data = codec.decompress(body[0], body[1:], _trailer_bound(body))
    try:
        doc = msgpack.unpackb(data, raw=False)
        slots = tuple((int(e[0]), int(e[1]), int(e[2]), int(e[3])) for e in doc)
        shapes = {len(e) for e in doc}
        if shapes == {5}:
            listed = tuple(tuple(Digest.from_raw(r, n) for r, n in e[4]) for e in doc)
            return slots, listed
    except (ValueError, TypeError, IndexError, msgpack.ExtraData) as exc:
        raise MalformedData(f"pack trailer does not decode: {exc}") from exc
    if not shapes <= {4}:
        raise MalformedData("pack trailer entries have the wrong shape")
    return slots, None


def frame_slot(frame: FrameEntry | FrameSpan) -> Slot:
    """A frame's entry as the trailer lays it out."""
    return frame.offset, frame.length, frame.kind, frame.depth


def _trailer_bound(body: bytes) -> int:
    if body[0] == codec.RAW:
        return len(body) - 1
    import zstandard

    try:
        size = zstandard.get_frame_parameters(body[1:]).content_size
    except zstandard.ZstdError as exc:
        raise MalformedData(f"pack trailer is not a zstd frame: {exc}") from exc
    if size < 0 or size > MAX_HEADER:
        raise MalformedData("pack trailer size out of range")
    return int(size)
