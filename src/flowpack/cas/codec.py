"""zstd compression of frames, optionally against a raw-content dictionary (a base).

Decompression is always bounded by the size recorded by the writer: a frame that claims or
produces more is rejected before that much memory is allocated (a zstd bomb fails cleanly).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import zstandard

from flowpack.cas.errors import MalformedData

RAW = 0
ZSTD = 1
#: zstd against a raw-content dictionary built from the frame's base chunks.
ZSTD_DICT = 2

DEFAULT_LEVEL = 3
#: The largest window a reader accepts (128 MiB), whatever a frame header asks for.
MAX_WINDOW_LOG = 27
#: The most bytes one frame may decode to (writers make frames of about 256 KiB; the largest
#: legitimate one holds one manifest of at most 64 MiB).  Checked before anything is allocated.
MAX_FRAME_SIZE = 72 << 20

_local = threading.local()


@dataclass(frozen=True)
class Encoded:
    """A compressed payload and the codec that produced it."""

    codec: int
    payload: bytes


def compress(data: bytes, *, level: int = DEFAULT_LEVEL, dictionary: bytes = b"") -> Encoded:
    """Compress ``data``; returns it raw when compression does not make it smaller."""
    if not data:
        return Encoded(RAW, b"")
    if dictionary:
        zdict = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        cctx = zstandard.ZstdCompressor(
            level=level, dict_data=zdict, write_checksum=False, write_content_size=True
        )
        out = cctx.compress(data)
        codec = ZSTD_DICT
    else:
        out = _compressor(level).compress(data)
        codec = ZSTD
    if len(out) >= len(data):
        return Encoded(RAW, data)
    return Encoded(codec, out)


def decompress(codec: int, payload: bytes, size: int, *, dictionary: bytes = b"") -> bytes:
    """Decode ``payload`` to exactly ``size`` bytes or raise :class:`MalformedData`.

    ``size`` above :data:`MAX_FRAME_SIZE` is refused before anything is allocated."""
    if size > MAX_FRAME_SIZE:
        raise MalformedData(f"frame of {size} bytes exceeds the {MAX_FRAME_SIZE} byte limit")
    if codec == RAW:
        if len(payload) != size:
            raise MalformedData(f"raw payload is {len(payload)} bytes, expected {size}")
        return bytes(payload)
    if codec not in (ZSTD, ZSTD_DICT):
        raise MalformedData(f"unknown codec {codec}")
    if codec == ZSTD_DICT and not dictionary:
        raise MalformedData("frame needs a dictionary but none was given")
    try:
        params = zstandard.get_frame_parameters(payload)
    except zstandard.ZstdError as exc:
        raise MalformedData(f"not a zstd frame: {exc}") from exc
    if params.content_size not in (size, zstandard.CONTENTSIZE_UNKNOWN):
        raise MalformedData(f"zstd frame claims {params.content_size} bytes, expected {size}")
    if params.window_size > (1 << MAX_WINDOW_LOG):
        raise MalformedData(f"zstd window {params.window_size} exceeds the limit")
    try:
        if codec == ZSTD_DICT:
            zdict = zstandard.ZstdCompressionDict(
                dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT
            )
            dctx = zstandard.ZstdDecompressor(dict_data=zdict, max_window_size=1 << MAX_WINDOW_LOG)
        else:
            dctx = _decompressor()
        out = dctx.decompress(payload, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise MalformedData(f"zstd frame does not decode: {exc}") from exc
    if len(out) != size:
        raise MalformedData(f"zstd frame decoded to {len(out)} bytes, expected {size}")
    return out


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache: dict[int, zstandard.ZstdCompressor] = getattr(_local, "c", None) or {}
    _local.c = cache
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(
            level=level, write_checksum=False, write_content_size=True
        )
    return cache[level]


def _decompressor() -> zstandard.ZstdDecompressor:
    d: zstandard.ZstdDecompressor | None = getattr(_local, "d", None)
    if d is None:
        d = zstandard.ZstdDecompressor(max_window_size=1 << MAX_WINDOW_LOG)
        _local.d = d
    return d
