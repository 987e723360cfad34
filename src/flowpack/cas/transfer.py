"""Moving bundles between stores through a file: export to one file, import from it.

Store-to-store copy is :mod:`flowpack.cas.copying`.

Export format: one pack file in exactly the ``packs/`` format (:mod:`flowpack.cas.pack`),
self-contained (no frame has bases, so it decodes without any store):

* frame 0, kind MANIFEST, holds a single record: a tiny manifest of kind
  ``flowpack.export.v1`` with no files and exactly one link, the exported root (a bundle or a
  record);
* then every manifest the root reaches (records reach their bundle and parent records), then
  every chunk those manifests list, grouped into frames of about 256 KiB;
* then the usual trailer index.

An import reads the whole file and checks it before storing anything: the magic and the
trailer, frames that tile the file exactly and agree with the trailer, no bases, every frame
decoded within the size its header records (a zstd bomb fails before it grows), every record
re-hashed, every manifest decoded (unsafe paths refused), and everything the root reaches
present.  Only then are the objects written, through a :class:`Writer`, so what the store
already holds is not stored twice.  A file that fails any check is refused with one
:class:`IntegrityError` and nothing is stored.  Exports and imports are held in memory, which
suits bundles (flows) rather than arbitrarily large datasets; imports are capped at
:data:`MAX_IMPORT` bytes of content.
"""

from __future__ import annotations

import os
from pathlib import Path

import blake3

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
    PackBuilder,
    decode_trailer,
    encode_frame,
    read_trailer,
    split_frame,
)
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

    Raises :class:`CapabilityError` on a read-only store before reading anything.
    """
    refuse_write(store.blobs.capabilities, "import", store.url)
    src = Path(src)
    try:
        if src.stat().st_size > MAX_IMPORT:
            raise MalformedData(f"is larger than the {MAX_IMPORT} byte limit")
        data = src.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no such file: {src}") from None
    except IntegrityError as exc:
        raise type(exc)(f"refusing to import {src}: {exc}") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {src}: {exc.strerror or exc}") from exc
    try:
        root, reach, objects = read_export(data)
    except IntegrityError as exc:
        raise type(exc)(f"refusing to import {src}: {exc}") from exc
    store.config  # noqa: B018 - creates the store on first write
    store.sync()
    with store.writing(join_batch=False) as writer:  # visible at once, even in a batch
        for d in reach.objects:
            if d.size:
                kind, body = objects[d]
                writer.add(d, body, kind=kind)
        writer.seal(DATA)
        writer.seal(OBJECT)
        for d in reversed(reach.manifests):
            writer.add(d, objects[d][1], kind=MANIFEST)
    return root


def read_export(data: bytes) -> tuple[Digest, Reach, dict[Digest, tuple[int, bytes]]]:
    """Decode and check a whole export; :class:`IntegrityError` says what is wrong."""
    if data[: len(MAGIC)] != MAGIC:
        raise MalformedData("not a flowpack export (bad magic)")
    end, body = read_trailer(data, len(data))
    frames = sorted(decode_trailer(body), key=lambda f: f.offset)
    pos = len(MAGIC)
    for fr in frames:
        if fr.offset != pos or fr.length <= 0:
            raise MalformedData("its frames do not tile the file")
        pos += fr.length
    if pos != end or not frames:
        raise MalformedData("its frames do not tile the file")
    if sum(r.size for fr in frames for r in fr.records) > MAX_IMPORT:
        raise MalformedData(f"it claims more than {MAX_IMPORT} bytes of content")
    objects: dict[Digest, tuple[int, bytes]] = {}
    for fr in frames:
        header, payload = split_frame(data[fr.offset : fr.offset + fr.length])
        if header.records != fr.records or header.kind != fr.kind:
            raise MalformedData(f"frame at {fr.offset} disagrees with the trailer")
        if header.bases:
            raise MalformedData(f"frame at {fr.offset} needs bases; an export must not")
        decoded = codec.decompress(header.codec, payload, header.raw_size)
        view = memoryview(decoded)
        off = 0
        for rec in header.records:
            piece = view[off : off + rec.size]
            off += rec.size
            if blake3.blake3(piece).digest() != rec.raw:
                raise MalformedData(f"object {rec} does not match its digest")
            objects[rec] = (header.kind, bytes(piece))
    first = frames[0]
    if first.kind != MANIFEST or len(first.records) != 1:
        raise MalformedData("it does not start with an export header")
    head = _decode(objects[first.records[0]][1], first.records[0])
    if head.kind != EXPORT_KIND or head.files or len(head.links) != 1:
        raise MalformedData("it does not start with an export header")
    root = head.links[0]

    def load(d: Digest) -> Manifest | None:
        if d.size == 0:
            return None
        if d not in objects:
            raise MalformedData(f"it lacks object {d}, which the bundle needs")
        kind, body = objects[d]
        return _decode(body, d) if kind == MANIFEST else None

    for d, (kind, body) in objects.items():
        if kind == MANIFEST:
            _decode(body, d)  # even one the root does not reach must be well formed
    reach = walk([root], load)
    for d in reach.objects:
        if d.size and d not in objects:
            raise MalformedData(f"it lacks object {d}, which the bundle needs")
    return root, reach, objects


def _decode(body: bytes, d: Digest) -> Manifest:
    try:
        return decode_manifest(body, d)
    except UnsafePath as exc:
        raise MalformedData(f"manifest {d}: {exc}") from exc
