"""Packs: the immutable unit of upload.

Layout (all integers little-endian)::

    b"FPACK001"                                magic
    frame*                                     see below
    trailer                                    zstd(msgpack([[offset, length, kind, depth]...]))
    u32 trailer length, b"FPIDX002"            so one ranged read of the tail lays out the pack

    frame  = u32 header length, header, payload
    header = msgpack [kind, codec, raw size, stored size, depth, [base...], [record...]]
             base, record = [32-byte blake3, size]

A frame is one zstd stream over the concatenated records it holds, optionally compressed
against a raw-content dictionary made of its *base* chunks (typically the previous version of
the same files).  ``depth`` is 0 without bases, else one more than the deepest base frame;
writers bound it so a read never decodes a long chain.  A pack is named by the blake3 of all
its bytes, so a damaged or truncated pack is detected by name alone.

Each chunk's digest is written once in the pack, in its frame's header: the trailer lays out
the frames, and the index file (:mod:`flowpack.cas.index`) lists the records again for clients
that never read the pack.  Packs written before the trailer became a layout (magic
``FPIDX001``) also list each frame's records in the trailer; they are read as they are.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

import msgpack

from flowpack.cas import codec
from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData
from flowpack.cas.frames import FrameEntry

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
    records: tuple[Digest, ...]

    def encode(self) -> bytes:
        body: bytes = msgpack.packb(
            [
                self.kind,
                self.codec,
                self.raw_size,
                self.stored_size,
                self.depth,
                [[b.raw, b.size] for b in self.bases],
                [[r.raw, r.size] for r in self.records],
            ],
            use_bin_type=True,
        )
        return U32.pack(len(body)) + body

    @classmethod
    def decode(cls, body: bytes) -> FrameHeader:
        try:
            kind, cod, raw, stored, depth, bases, recs = msgpack.unpackb(body, raw=False)
            h = cls(
                int(kind),
                int(cod),
                int(raw),
                int(stored),
                int(depth),
                tuple(Digest.from_raw(b, s) for b, s in bases),
                tuple(Digest.from_raw(r, s) for r, s in recs),
            )
        except (ValueError, TypeError, msgpack.ExtraData) as exc:
            raise MalformedData(f"frame header does not decode: {exc}") from exc
        if sum(r.size for r in h.records) != h.raw_size or h.raw_size > MAX_FRAME_RAW:
            raise MalformedData("frame header sizes are inconsistent")
        return h


@dataclass(frozen=True)
class SealedPack:
    """A finished pack: its bytes, name and frame list."""

    data: bytes
    digest: Digest
    frames: tuple[FrameEntry, ...]


class PackBuilder:
    """Appends encoded frames; :meth:`build` returns the sealed pack.  Not thread-safe.

    Frames go to an anonymous temporary file as they come, so a pack being assembled costs no
    memory; :meth:`build` reads it back once, as the one ``bytes`` an upload needs.
    """

    def __init__(self) -> None:
        import tempfile  # only a writer assembles packs

        self._spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by build
        self._spool.write(MAGIC)
        self._size = len(MAGIC)
        self._frames: list[FrameEntry] = []

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, header: FrameHeader, payload: bytes) -> None:
        head = header.encode()
        self._frames.append(
            FrameEntry(
                self._size, len(head) + len(payload), header.kind, header.depth, header.records
            )
        )
        self._spool.write(head)
        self._spool.write(payload)
        self._size += len(head) + len(payload)

    def build(self) -> SealedPack:
        """The sealed pack (its bytes read back whole); the builder is spent."""
        trailer = codec.compress(encode_layout(self._frames))
        body = bytes([trailer.codec]) + trailer.payload
        with self._spool as spool:
            spool.write(body)
            spool.write(TRAILER.pack(len(body), TRAILER_MAGIC))
            spool.flush()
            size = self._size + len(body) + TRAILER.size
            data = os.pread(spool.fileno(), size, 0)  # one allocation of the exact size
        if len(data) != size:
            raise OSError(f"a pack's temporary file gave back {len(data)} of {size} bytes")
        return SealedPack(data, Digest.of(data), tuple(self._frames))

    def close(self) -> None:
        """Drop the frames added (for a builder that is never built).  Idempotent."""
        self._spool.close()


def encode_frame(
    kind: int,
    records: Sequence[tuple[Digest, bytes]],
    *,
    bases: Sequence[Digest] = (),
    dictionary: bytes = b"",
    depth: int = 0,
    level: int = codec.DEFAULT_LEVEL,
) -> tuple[FrameHeader, bytes]:
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
        tuple(d for d, _ in records),
    )
    return header, enc.payload


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


def encode_layout(frames: Sequence[FrameEntry]) -> bytes:
    """The msgpack encoding of a trailer: each frame's offset, length, kind and depth."""
    out: bytes = msgpack.packb([[f.offset, f.length, f.kind, f.depth] for f in frames])
    return out


def decode_trailer(body: bytes) -> tuple[Slot, ...]:
    """The frame layout a pack's trailer gives (either trailer version), in its order."""
    if not body:
        raise MalformedData("empty pack trailer")
    data = codec.decompress(body[0], body[1:], _trailer_bound(body))
    try:
        doc = msgpack.unpackb(data, raw=False)
        # a first-version entry also lists the frame's records, which its header repeats
        slots = tuple((int(e[0]), int(e[1]), int(e[2]), int(e[3])) for e in doc)
        shapes = {len(e) for e in doc}
    except (ValueError, TypeError, IndexError, msgpack.ExtraData) as exc:
        raise MalformedData(f"pack trailer does not decode: {exc}") from exc
    if not shapes <= {4, 5}:
        raise MalformedData("pack trailer entries have the wrong shape")
    return slots


def frame_slot(frame: FrameEntry) -> Slot:
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
