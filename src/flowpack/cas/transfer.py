"""Moving bundles between stores through a file: export to one file, import from it.

Store-to-store copy is :mod:`flowpack.cas.copying`.

Export format: one pack file in exactly the ``packs/`` format (:mod:`flowpack.cas.pack`),
self-contained (no frame has bases, so it decodes without any store):

* frame 0, kind MANIFEST, holds a single record: a tiny manifest of kind
  ``flowpack.export.v1`` with no files and exactly one link, the exported root (a bundle or a
  record);
* then every manifest the root reaches (records reach their bundle and parent records), then
  every chunk those manifests list, grouped into frames of about 256 KiB;
* then the usual trailer (the frames' layout).

An import reads the file frame by frame and checks it before storing anything: the magic and the
trailer, frames that tile the file exactly and agree with the trailer, no bases, every frame
decoded within the size its header records (a zstd bomb fails before it grows), every record
re-hashed, every manifest decoded (unsafe paths refused), and everything the root reaches
present.  Only then are the objects written, through a :class:`Writer`, so what the store
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

import blake3

from flowpack.cas import codec
from flowpack.cas.content import Content
from flowpack.cas.digest import Digest
from flowpack.cas.errors import IntegrityError, MalformedData, NotFound, UnsafePath, UsageError
from flowpack.cas.frames import FrameEntry
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
    decode_trailer,
    encode_frame,
    read_trailer,
    split_frame,
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
    builder = PackBuilder()
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
        self.entries: list[FrameEntry] = []

    def check(self) -> tuple[Digest, Reach]:
        """Check everything; the root and what it reaches.  :class:`IntegrityError` if bad."""
        if self.size > MAX_IMPORT:
            raise MalformedData(f"is larger than the {MAX_IMPORT} byte limit")
        self.entries = self._layout()
        for kind, records in self.frames():
            for d, body in records:
                self.kinds[d] = kind
                if kind == MANIFEST:
                    self.manifests[d] = body
        first = self.entries[0]
        if first.kind != MANIFEST or len(first.records) != 1:
            raise MalformedData("it does not start with an export header")
        head = _decode(self.manifests[first.records[0]], first.records[0])
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

    def _layout(self) -> list[FrameEntry]:
        if self.size < len(MAGIC) or self._read(0, len(MAGIC)) != MAGIC:
            raise MalformedData("not a flowpack export (bad magic)")
        tail = self._read(max(0, self.size - (64 << 10)), min(self.size, 64 << 10))
        end, body = read_trailer(tail, self.size)
        if len(body) < self.size - end - TRAILER.size:
            body = self._read(end, self.size - end - TRAILER.size)
        slots = sorted(decode_trailer(body))
        pos = len(MAGIC)
        for offset, length, _, _ in slots:
            if offset != pos or length <= 0:
                raise MalformedData("its frames do not tile the file")
            if length > codec.MAX_FRAME_SIZE + 4096:
                raise MalformedData(f"frame at {offset} is larger than any frame may be")
            pos += length
        if pos != end or not slots:
            raise MalformedData("its frames do not tile the file")
        frames = [self._entry(*slot) for slot in slots]
        if sum(r.size for fr in frames for r in fr.records) > MAX_IMPORT:
            raise MalformedData(f"it claims more than {MAX_IMPORT} bytes of content")
        return frames

    def _entry(self, offset: int, length: int, kind: int, depth: int) -> FrameEntry:
        """A frame of the trailer's layout with the records its header lists."""
        (hlen,) = U32.unpack(self._read(offset, U32.size))
        if U32.size + hlen > length:
            raise MalformedData(f"frame at {offset}: its header is longer than the frame")
        header = FrameHeader.decode(self._read(offset + U32.size, hlen))
        if header.kind != kind or header.depth != depth:
            raise MalformedData(f"frame at {offset} disagrees with the trailer")
        return FrameEntry(offset, length, kind, depth, header.records)

    def frames(self, skip: int | None = None) -> Iterator[tuple[int, list[tuple[Digest, bytes]]]]:
        """Each frame's kind and verified records, one frame in memory at a time."""
        for fr in self.entries:
            if fr.kind == skip:
                continue
            header, payload = split_frame(self._read(fr.offset, fr.length))
            if header.records != fr.records or header.kind != fr.kind:
                raise MalformedData(f"frame at {fr.offset} disagrees with the trailer")
            if header.bases:
                raise MalformedData(f"frame at {fr.offset} needs bases; an export must not")
            decoded = codec.decompress(header.codec, payload, header.raw_size)
            del payload
            view = memoryview(decoded)
            records, off = [], 0
            for rec in header.records:
                piece = view[off : off + rec.size]
                off += rec.size
                if blake3.blake3(piece).digest() != rec.raw:
                    raise MalformedData(f"object {rec} does not match its digest")
                records.append((rec, bytes(piece)))
            del view, decoded
            yield header.kind, records


def _decode(body: bytes, d: Digest) -> Manifest:
    try:
        return decode_manifest(body, d)
    except UnsafePath as exc:
        raise MalformedData(f"manifest {d}: {exc}") from exc
