"""Moving bundles between stores through a file: export to one file, import from it.

Store-to-store copy is :mod:`flowpack.cas.copying`.

Export format: one pack file in the ``packs/`` first format (:mod:`flowpack.cas.pack`: each
record's digest listed in its frame header and in the trailer, which every version of flowpack
imports), self-contained (no frame has bases, so it decodes without any store):

* frame 0, kind MANIFEST, holds a single record: a tiny manifest of kind
  ``flowpack.export.v1`` with no files and exactly one link, the exported root (a bundle or a
  record);
* then every manifest the root reaches (records reach their bundle and parent records), then
  every chunk those manifests list, grouped into frames of about 256 KiB;
* then the trailer.

An import reads the file frame by frame and checks it before storing anything: the magic and the
trailer, frames that tile the file exactly and agree with the trailer, no bases, every frame
decoded within the size its header records (a zstd bomb fails before it grows), every record
hashed (and equal to the digest its header lists, in the first format), every
manifest decoded (unsafe paths refused), and everything the root reaches present.  Only then
are the objects written, through a :class:`Writer`, so what the store
already holds is not stored twice.  A file that fails any check is refused with one
:class:`IntegrityError` and nothing is stored.  An import holds one decoded frame (at most
:data:`flowpack.cas.codec.MAX_FRAME_SIZE`) and the manifests at a time, never the whole file;
exports are built in memory, which suits bundles (flows) rather than large datasets.  Imports
are capped at :data:`MAX_IMPORT` bytes of content.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from flowpack.cas import codec
from flowpack.cas.content import Content
from flowpack.cas.digest import Digest
from flowpack.cas.errors import IntegrityError, MalformedData, NotFound, UnsafePath, UsageError
from flowpack.cas.guards import refuse_write
from flowpack.cas.manifest import Manifest, decode_manifest
from flowpack.cas.pack import (
    DATA,
    MAGIC,
    MANIFEST,
    OBJECT,
    TRAILER,
    U32,
    FrameHeader,
    PackBuilder,
    Slot,
    decode_trailer,
    encode_frame,
    read_trailer,
    split_frame,
    split_records,
)
from flowpack.cas.spill import FrameSpill
from flowpack.cas.walk import Reach, manifest_loader, walk
from flowpack.cas.writer import FRAME_TARGET

EXPORT_KIND = "flowpack.export.v1"
#: The most content (decoded bytes) an import accepts.
MAX_IMPORT = 1 << 30


# -- export ------------------------------------------------------------------------------


def export_bundle(store: Content, digest: Digest, out: Path) -> int:
    """Write ``digest`` and everything it reaches to ``out`` (atomically); returns its size."""
    store.sync()
    reach = walk([digest], manifest_loader(store))
    header = Manifest(EXPORT_KIND, links=(digest,)).encode()
    builder = PackBuilder(first_format=True)  # which every version imports
    builder.add(*encode_frame(MANIFEST, [(Digest.of(header), header)], level=store.level))
    manifests = list(reversed(reach.manifests))
    with FrameSpill() as spill, store.planned([*manifests, *reach.objects], spill=spill):
        _add_frames(store, builder, MANIFEST, manifests)
        for kind in (DATA, OBJECT):
            _add_frames(store, builder, kind, [d for d in reach.objects if _kind(store, d) == kind])
    data = builder.build().data
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(data)


def _kind(store: Content, d: Digest) -> int:
    loc = store.locate(d)
    return DATA if loc is None or loc.kind == MANIFEST else loc.kind


def _add_frames(store: Content, builder: PackBuilder, kind: int, digests: list[Digest]) -> None:
    batch: list[tuple[Digest, bytes]] = []
    size = 0
    for d in digests:
        if d.size == 0:
            continue
        data = store.get_bytes(d)
        batch.append((d, data))
        size += len(data)
        if size >= FRAME_TARGET:
            builder.add(*encode_frame(kind, batch, level=store.level))
            batch, size = [], 0
    if batch:
        builder.add(*encode_frame(kind, batch, level=store.level))


# -- import ------------------------------------------------------------------------------


def import_bundle(store: Content, src: Path) -> Digest:
    """Check the export file ``src`` completely, then store it; returns the root digest.

    The file is read frame by frame, twice (check, then store, re-hashing every record again),
    so memory holds one decoded frame and the manifests, never the whole export.  Raises
    :class:`CapabilityError` on a read-only store before reading anything.
    """
    refuse_write(store.blobs.capabilities, "import", store.url)
    src = Path(src)
    try:
        with open(src, "rb") as fh:
            export = ExportFile(fh, os.fstat(fh.fileno()).st_size)
            try:
                root, reach = export.check()
            except IntegrityError as exc:
                raise type(exc)(f"refusing to import {src}: {exc}") from exc
            store.config  # noqa: B018 - creates the store on first write
            store.sync()
            wanted = {d for d in reach.objects if d.size}
            with store.writing(join_batch=False) as writer:  # visible at once, even in a batch
                for kind, records in export.frames(skip=MANIFEST):
                    for d, body in records:
                        if d in wanted:
                            wanted.discard(d)
                            writer.add(d, body, kind=kind)
                writer.seal(DATA)
                writer.seal(OBJECT)
                if wanted:  # the file changed between the two passes
                    raise MalformedData(f"refusing to import {src}: it changed while being read")
                for d in reversed(reach.manifests):
                    writer.add(d, export.manifests[d], kind=MANIFEST)
    except FileNotFoundError:
        raise NotFound(f"no such file: {src}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {src}: {exc.strerror or exc}") from exc
    return root


class ExportFile:
    """An export file read frame by frame (see the module docstring for what is checked)."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh = fh
        self.size = size
        self.manifests: dict[Digest, bytes] = {}
        self.kinds: dict[Digest, int] = {}
        self.entries: list[tuple[Slot, tuple[int, ...]]] = []

    def check(self) -> tuple[Digest, Reach]:
        """Check everything; the root and what it reaches.  :class:`IntegrityError` if bad."""
        if self.size > MAX_IMPORT:
            raise MalformedData(f"is larger than the {MAX_IMPORT} byte limit")
        self.entries = self._layout()
        first: list[Digest] | None = None
        for kind, records in self.frames():
            if first is None:
                first = [d for d, _ in records] if kind == MANIFEST else []
            for d, body in records:
                self.kinds[d] = kind
                if kind == MANIFEST:
                    self.manifests[d] = body
        if first is None or len(first) != 1:
            raise MalformedData("it does not start with an export header")
        head = _decode(self.manifests[first[0]], first[0])
        if head.kind != EXPORT_KIND or head.files or len(head.links) != 1:
            raise MalformedData("it does not start with an export header")
        root = head.links[0]
        for d, body in self.manifests.items():
            _decode(body, d)  # even one the root does not reach must be well formed
        reach = walk([root], self._load)
        for d in reach.objects:
            if d.size and d not in self.kinds:
                raise MalformedData(f"it lacks object {d}, which the bundle needs")
        return root, reach

    def _load(self, d: Digest) -> Manifest | None:
        if d.size == 0:
            return None
        if d not in self.kinds:
            raise MalformedData(f"it lacks object {d}, which the bundle needs")
        body = self.manifests.get(d)
        return _decode(body, d) if body is not None else None

    def _read(self, offset: int, length: int) -> bytes:
        self.fh.seek(offset)
        data = self.fh.read(length)
        if len(data) != length:
            raise MalformedData("it is truncated")
        return data

    def _layout(self) -> list[tuple[Slot, tuple[int, ...]]]:
        """Each frame's place (from the trailer) and record sizes (from its header)."""
        if self.size < len(MAGIC) or self._read(0, len(MAGIC)) != MAGIC:
            raise MalformedData("not a flowpack export (bad magic)")
        tail = self._read(max(0, self.size - (64 << 10)), min(self.size, 64 << 10))
        end, body = read_trailer(tail, self.size)
        if len(body) < self.size - end - TRAILER.size:
            body = self._read(end, self.size - end - TRAILER.size)
        layout, listed = decode_trailer(body)
        order = sorted(range(len(layout)), key=lambda i: layout[i])
        slots = [layout[i] for i in order]
        pos = len(MAGIC)
        for offset, length, _, _ in slots:
            if offset != pos or length <= 0:
                raise MalformedData("its frames do not tile the file")
            if length > codec.MAX_FRAME_SIZE + 4096:
                raise MalformedData(f"frame at {offset} is larger than any frame may be")
            pos += length
        if pos != end or not slots:
            raise MalformedData("its frames do not tile the file")
        frames = []
        for i, slot in zip(order, slots, strict=True):
            header = self._header(*slot)
            if listed is not None and listed[i] != header.listed:
                raise MalformedData(f"frame at {slot[0]} disagrees with the trailer")
            frames.append((slot, header.sizes))
        if sum(sum(sizes) for _, sizes in frames) > MAX_IMPORT:
            raise MalformedData(f"it claims more than {MAX_IMPORT} bytes of content")
        return frames

    def _header(self, offset: int, length: int, kind: int, depth: int) -> FrameHeader:
        """The header of the frame at ``offset``, which must agree with the trailer."""
        (hlen,) = U32.unpack(self._read(offset, U32.size))
        if U32.size + hlen > length:
            raise MalformedData(f"frame at {offset}: its header is longer than the frame")
        header = FrameHeader.decode(self._read(offset + U32.size, hlen))
        if header.kind != kind or header.depth != depth:
            raise MalformedData(f"frame at {offset} disagrees with the trailer")
        return header

    def frames(self, skip: int | None = None) -> Iterator[tuple[int, list[tuple[Digest, bytes]]]]:
        """Each frame's kind and records (keyed by their hashes), one frame in memory at a time."""
        for (offset, length, kind, _), sizes in self.entries:
            if kind == skip:
                continue
            header, payload = split_frame(self._read(offset, length))
            if header.sizes != sizes or header.kind != kind:
                raise MalformedData(f"frame at {offset} changed while being read")
            if header.bases:
                raise MalformedData(f"frame at {offset} needs bases; an export must not")
            decoded = codec.decompress(header.codec, payload, header.raw_size)
            del payload
            records = [
                (Digest.from_raw(h, len(v)), bytes(v)) for h, v in split_records(header, decoded)
            ]
            del decoded
            yield kind, records


def _decode(body: bytes, d: Digest) -> Manifest:
    try:
        return decode_manifest(body, d)
    except UnsafePath as exc:
        raise MalformedData(f"manifest {d}: {exc}") from exc
