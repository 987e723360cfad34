"""Frame lists: where each frame of a pack lies and what it holds.

A frame list is the msgpack list ``[[offset, length, kind, depth, [[chunk hash(32), size],
...]], ...]``; every index file (:mod:`flowpack.cas.index`) carries one per pack, and packs
(:mod:`flowpack.cas.pack`) hand theirs to the index as they are sealed.  In memory a frame's
records are kept packed (:class:`FrameSpan`: 40 bytes a record, no object per chunk), and
unpacked into a :class:`FrameEntry` only when asked.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from flowpack.cas.digest import Digest

#: One record of a :class:`FrameSpan`: chunk hash and size.
SPAN_RECORD = struct.Struct("<32sQ")


@dataclass(frozen=True)
class FrameEntry:
    """A frame as the index records it: where it is and what it holds."""

    offset: int
    length: int
    kind: int
    depth: int
    records: tuple[Digest, ...]


@dataclass(frozen=True, slots=True)
class FrameSpan:
    """A frame, its records packed as :data:`SPAN_RECORD`s."""

    offset: int
    length: int
    kind: int
    depth: int
    records: bytes

    @classmethod
    def of(cls, frame: FrameEntry) -> FrameSpan:
        return cls.packing(frame.offset, frame.length, frame.kind, frame.depth, frame.records)

    @classmethod
    def packing(
        cls, offset: int, length: int, kind: int, depth: int, records: Sequence[Digest]
    ) -> FrameSpan:
        recs = b"".join(SPAN_RECORD.pack(r.raw, r.size) for r in records)
        return cls(offset, length, kind, depth, recs)

    def digests(self) -> tuple[Digest, ...]:
        return tuple(Digest.from_raw(h, s) for h, s in SPAN_RECORD.iter_unpack(self.records))

    def entry(self) -> FrameEntry:
        return FrameEntry(self.offset, self.length, self.kind, self.depth, self.digests())
