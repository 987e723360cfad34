"""Hand-made hostile inputs for the hardening tests: zstd bombs, non-canonical msgpack, and
manifests stored without ManifestBuilder's checks.

Everything here writes bytes by hand (or through the core's low-level :class:`Writer`), never
through the validating builders, so the tests see what an attacker could put in a store.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import blake3
import msgpack

from flowpack.cas import codec
from flowpack.cas.digest import Digest
from flowpack.cas.frames import FrameEntry
from flowpack.cas.index import IndexFile
from flowpack.cas.manifest import FORMAT
from flowpack.cas.pack import (
    DATA,
    MANIFEST,
    Frame,
    FrameHeader,
    PackBuilder,
)
from flowpack.cas.reader import pack_key
from flowpack.cas.store import Store
from flowpack.cas.writer import Writer

ZSTD_MAGIC = 0xFD2FB528
RLE_BLOCK = 1 << 17


def rle_bomb(total: int, *, content_size: int | None = None, byte: int = 0x41) -> bytes:
    """A valid zstd frame of RLE blocks that decodes to ``total`` bytes (4 bytes per 128 KiB).

    ``content_size`` is what the frame header claims (omitted when None), which may differ
    from ``total``: a frame can lie about its size.
    """
    window = bytes([(17 - 10) << 3])  # 128 KiB window, not single-segment
    if content_size is None:
        header = bytes([0x00]) + window
    else:
        header = bytes([0xC0]) + window + struct.pack("<Q", content_size)
    blocks = []
    n = max(1, -(-total // RLE_BLOCK))
    for i in range(n):
        size = min(RLE_BLOCK, total - i * RLE_BLOCK)
        head = (1 if i == n - 1 else 0) | (1 << 1) | (size << 3)
        blocks.append(head.to_bytes(3, "little") + bytes([byte]))
    return struct.pack("<I", ZSTD_MAGIC) + header + b"".join(blocks)


# -- msgpack written by hand, so that every encoding choice can be made non-canonical ----------


def mp_int(n: int, width: int | None = None) -> bytes:
    """An unsigned int, in its smallest encoding or forced to ``width`` bytes (1, 2, 4, 8)."""
    if n < 0:
        raise ValueError("only unsigned ints are needed here")
    if width is None:
        if n < 0x80:
            return bytes([n])
        width = next(w for w in (1, 2, 4, 8) if n < 1 << (8 * w))
    tag = {1: 0xCC, 2: 0xCD, 4: 0xCE, 8: 0xCF}[width]
    return bytes([tag]) + n.to_bytes(width, "big")


def mp_str(s: str, *, wide: bool = False) -> bytes:
    raw = s.encode()
    if len(raw) < 32 and not wide:
        return bytes([0xA0 | len(raw)]) + raw
    if len(raw) < 256 and not wide:
        return bytes([0xD9, len(raw)]) + raw
    return bytes([0xDA]) + len(raw).to_bytes(2, "big") + raw


def mp_bin(b: bytes, *, wide: bool = False) -> bytes:
    if len(b) < 256 and not wide:
        return bytes([0xC4, len(b)]) + b
    return bytes([0xC5]) + len(b).to_bytes(2, "big") + b


def mp_array(items: Sequence[bytes], *, wide: bool = False) -> bytes:
    head = bytes([0x90 | len(items)]) if len(items) < 16 and not wide else b"\xdc"
    if head == b"\xdc":
        head += len(items).to_bytes(2, "big")
    return head + b"".join(items)


def mp_map(pairs: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A map whose pairs are written in the order given (canonical only if sorted)."""
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


def raw_manifest(
    files: Sequence[Any],
    *,
    kind: str = "bundle",
    links: Sequence[Any] = (),
    meta: dict[str, Any] | None = None,
    fmt: str = FORMAT,
) -> bytes:
    """Manifest bytes with no checks at all (``files`` as encoded: [path, mode, size, ...])."""
    doc = {
        "files": list(files),
        "format": fmt,
        "kind": kind,
        "links": list(links),
        "meta": meta or {},
    }
    out: bytes = msgpack.packb(doc, use_bin_type=True)
    return out


def file_row(path: str, content: bytes, mode: int = 0o644) -> list[Any]:
    """One encoded file entry for a single-chunk (or empty) file holding ``content``."""
    return [path, mode, len(content), blake3.blake3(content).digest(), []]


# -- putting crafted objects into a real store ---------------------------------------------


def store_raw(store: Store, objects: Sequence[tuple[bytes, int]]) -> list[Digest]:
    """Store ``(bytes, frame kind)`` objects through the core's Writer, unchecked."""
    store.config  # noqa: B018 - create the store
    store.sync()
    writer = Writer(store.blobs, store.index, store.reader, workers=1)
    digests = []
    try:
        for data, kind in objects:
            d = Digest.of(data)
            writer.add(d, data, kind=kind)
            writer.seal(kind)
            digests.append(d)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    return digests


def store_bundle(store: Store, manifest: bytes, contents: Sequence[bytes] = ()) -> Digest:
    """Store file contents as chunks and ``manifest`` as a MANIFEST record; its digest."""
    digests = store_raw(store, [*((c, DATA) for c in contents if c), (manifest, MANIFEST)])
    return digests[-1]


def lying_frame(kind: int, content: bytes, payload: bytes) -> Frame:
    """A frame that says it holds ``content`` (its size, and its digest to the index) but
    whose payload is ``payload`` (a zstd bomb, say)."""
    header = FrameHeader(kind, codec.ZSTD, len(content), len(payload), 0, (), (len(content),))
    return header, payload, (Digest.of(content),)


def plant_frame(
    store: Store, header: FrameHeader, payload: bytes, records: Sequence[Digest]
) -> Digest:
    """Upload a pack holding one hand-made frame of ``records``, and an index file listing it."""
    store.config  # noqa: B018
    builder = PackBuilder()
    builder.add(header, payload, records)
    pack = builder.build()
    store.blobs.put(pack_key(pack.digest), pack.data, create_only=True)
    index = IndexFile(((pack.digest, pack.frames),)).encode()
    store.blobs.put(f"index/{Digest.of(index).hex}", index, create_only=True)
    store.sync()
    return pack.digest


def craft_export(
    root: bytes,
    manifests: Sequence[bytes] = (),
    chunks: Sequence[bytes] = (),
    *,
    extra_frames: Sequence[Frame] = (),
    first_format: bool = True,
) -> bytes:
    """An export file (see :mod:`flowpack.cas.transfer`) holding ``root`` unchecked.

    The header links to ``root``; ``manifests`` (besides the root) and ``chunks`` follow,
    then ``extra_frames`` exactly as given (to smuggle in a bomb), in the first format (as
    exports are written) or the later one.
    """
    from flowpack.cas.pack import encode_frame
    from flowpack.cas.transfer import EXPORT_KIND

    root_d = Digest.of(root)
    header = raw_manifest([], kind=EXPORT_KIND, links=[[root_d.raw, root_d.size]])
    builder = PackBuilder(first_format=first_format)
    builder.add(*encode_frame(MANIFEST, [(Digest.of(header), header)]))
    builder.add(*encode_frame(MANIFEST, [(Digest.of(m), m) for m in [root, *manifests]]))
    if chunks:
        builder.add(*encode_frame(DATA, [(Digest.of(c), c) for c in chunks]))
    for frame in extra_frames:
        builder.add(*frame)
    return builder.build().data


def repack(data: bytes, frames: Sequence[FrameEntry], *, first_format: bool) -> bytes:
    """A pack's (or export's) bytes ``data``, holding ``frames``, written again in the given
    format (:mod:`flowpack.cas.pack`): the first lists every record's digest in its frame
    header and again in a trailer of magic ``FPIDX001``; the later lists sizes only."""
    from flowpack.cas.pack import split_frame

    builder = PackBuilder(first_format=first_format)
    for f in sorted(frames, key=lambda f: f.offset):
        builder.add(*split_frame(data[f.offset : f.offset + f.length]), f.records)
    return builder.build().data


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Everything under ``root`` (not following links): kind and content hash or link text."""
    out: dict[str, tuple[str, str]] = {}
    if not root.exists() and not root.is_symlink():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", oct(p.stat().st_mode))
            else:
                out[rel] = ("file", blake3.blake3(p.read_bytes()).hexdigest())
    return out
