"""Checking one pack: its layout against the index (no data read) and, fully, its bytes.

The full check re-does what a reader does, but for every frame of the pack rather than for
the chunks someone asked for: the pack hashes to its name, its trailer's layout agrees with
the index files, every frame header lists the records the index does, and every frame splits,
decodes against its bases (bounded by its recorded size) and yields records that re-hash to
their digests.  Damage is described, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flowpack.cas import codec
from flowpack.cas.digest import Digest
from flowpack.cas.errors import IntegrityError, MalformedData, NotFound
from flowpack.cas.frames import FrameEntry
from flowpack.cas.index import PackEntry
from flowpack.cas.pack import (
    MAGIC,
    TRAILER,
    decode_trailer,
    frame_slot,
    read_trailer,
    split_frame,
    split_records,
)


def check_layout(entry: PackEntry, size: int | None) -> list[str]:
    """What is wrong with a pack's presence, size and frame ranges (``size`` None: absent)."""
    if size is None:
        return ["is missing"]
    out: list[str] = []
    if size != entry.pack.size:
        out.append(f"is {size} bytes, the index records {entry.pack.size}")
    end = len(MAGIC)
    limit = entry.pack.size - TRAILER.size
    for fr in sorted(entry.frames, key=lambda f: f.offset):
        if fr.offset < end or fr.length <= 0 or fr.offset + fr.length > limit:
            out.append(
                f"frame at {fr.offset} (+{fr.length} bytes) lies outside the pack or overlaps"
                " another"
            )
            break
        end = fr.offset + fr.length
    return out


@dataclass
class PackCheck:
    """The outcome of reading a whole pack."""

    problems: list[str] = field(default_factory=list)
    #: Records that could not be decoded or did not re-hash to their digest.
    bad_records: set[Digest] = field(default_factory=set)
    #: For each record of a delta frame, the base chunks it is decoded against.
    bases: dict[Digest, tuple[Digest, ...]] = field(default_factory=dict)
    records: int = 0


def check_bytes(data: bytes, entry: PackEntry, base: Callable[[Digest], bytes]) -> PackCheck:
    """Check a pack's ``data`` against its index ``entry``; ``base`` reads a verified chunk."""
    out = PackCheck()
    if not entry.pack.matches(data):
        out.problems.append("its bytes do not match its name (damaged or truncated)")
    if data[: len(MAGIC)] != MAGIC:
        out.problems.append("it does not start with the pack magic")
    try:
        _, body = read_trailer(data, len(data))
        slots, listed = decode_trailer(body)
        if sorted(slots) != sorted(map(frame_slot, entry.frames)) or (
            listed is not None  # first format: the trailer lists each frame's records too
            and sorted(zip(slots, listed, strict=True))
            != sorted((frame_slot(f), f.records) for f in entry.frames)
        ):
            out.problems.append("its trailer disagrees with the index files")
    except MalformedData as exc:
        out.problems.append(f"its trailer is damaged: {exc}")
    for fr in entry.frames:
        try:
            bases = _check_frame(data, fr, base)
        except IntegrityError as exc:
            out.problems.append(f"frame at {fr.offset}: {exc}")
            out.bad_records.update(fr.records)
            continue
        out.records += len(fr.records)
        if bases:
            for r in fr.records:
                out.bases[r] = bases
    return out


def _check_frame(
    data: bytes, fr: FrameEntry, base: Callable[[Digest], bytes]
) -> tuple[Digest, ...]:
    raw = data[fr.offset : fr.offset + fr.length]
    if len(raw) != fr.length:
        raise MalformedData("is cut short")
    header, payload = split_frame(raw)
    sizes = tuple(r.size for r in fr.records)
    if header.sizes != sizes or header.kind != fr.kind or header.depth != fr.depth:
        raise MalformedData("its header disagrees with the index")
    if header.listed and header.listed != fr.records:  # a first-format header lists digests
        raise MalformedData("its header disagrees with the index")
    parts: list[bytes] = []
    for b in header.bases:
        try:
            parts.append(base(b))
        except (IntegrityError, NotFound) as exc:
            raise MalformedData(f"its base {b} cannot be read: {exc}") from exc
    decoded = codec.decompress(header.codec, payload, header.raw_size, dictionary=b"".join(parts))
    # the index's digests: what the store promises this frame holds
    for rec, (digest, _) in zip(fr.records, split_records(header, decoded), strict=True):
        if digest != rec.raw:
            raise MalformedData(f"object {rec} does not match its digest")
    return header.bases
