"""Frame lists: where each frame of a pack lies and what it holds.

A frame list is the msgpack list ``[[offset, length, kind, depth, [[chunk hash(32), size],
...]], ...]``; a pack's trailer (:mod:`flowpack.cas.pack`) and every index file
(:mod:`flowpack.cas.index`) carry one per pack, so both build on this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgpack

from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData


@dataclass(frozen=True)
class FrameEntry:
    """A frame as the index records it: where it is and what it holds."""

    offset: int
    length: int
    kind: int
    depth: int
    records: tuple[Digest, ...]


def encode_frames(frames: Iterable[FrameEntry]) -> bytes:
    """The msgpack encoding of a frame list."""
    out: bytes = msgpack.packb(frames_doc(frames), use_bin_type=True)
    return out


def decode_frames(data: bytes) -> tuple[FrameEntry, ...]:
    """Decode :func:`encode_frames` output; :class:`MalformedData` if it does not decode."""
    try:
        return decode_frames_doc(msgpack.unpackb(data, raw=False))
    except (ValueError, TypeError, msgpack.ExtraData) as exc:
        raise MalformedData(f"frame list does not decode: {exc}") from exc


def frames_doc(frames: Iterable[FrameEntry]) -> list[Any]:
    """A frame list as plain msgpack-ready lists."""
    return [
        [f.offset, f.length, f.kind, f.depth, [[r.raw, r.size] for r in f.records]] for f in frames
    ]


def decode_frames_doc(doc: Any) -> tuple[FrameEntry, ...]:
    """The frame entries of a decoded frame list (raises ``ValueError``/``TypeError`` if bad)."""
    return tuple(
        FrameEntry(int(o), int(n), int(k), int(d), tuple(Digest.from_raw(h, s) for h, s in recs))
        for o, n, k, d, recs in doc
    )
