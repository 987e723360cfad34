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
#: Compression caps zstd's match-finder tables at ``2**DICT_HASH_LOG`` entries: zstd sizes them
#: for the dictionary plus the input (21 MiB of context per thread at level 9 with a 1 MiB
#: dictionary), while a frame of 256 KiB compresses as small against tables of 2**19 (6 MiB of
#: context), and faster.
DICT_HASH_LOG = 19
#: Inputs up to this size (a frame) share one context per thread, sized for it.
SMALL_INPUT = 256 << 10
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
            compression_params=dict_params(level, len(data), len(dictionary)), dict_data=zdict
        )
        out = cctx.compress(data)
        codec = ZSTD_DICT
    else:
        out = _compressor(level, len(data)).compress(data)
        codec = ZSTD
    if len(out) >= len(data):
        return Encoded(RAW, data)
    return Encoded(codec, out)


def dict_params(level: int, size: int, dict_size: int) -> zstandard.ZstdCompressionParameters:
    """zstd's parameters for ``level`` and these sizes, with tables capped (see
    :data:`DICT_HASH_LOG`)."""
    p = zstandard.ZstdCompressionParameters.from_level(level, source_size=size, dict_size=dict_size)
    return zstandard.ZstdCompressionParameters.from_level(
        level,
        source_size=size,
        dict_size=dict_size,
        hash_log=min(p.hash_log, DICT_HASH_LOG),
        chain_log=min(p.chain_log, DICT_HASH_LOG - 1),
        write_checksum=False,
        write_content_size=True,
    )


def context_size(level: int, size: int, dict_size: int) -> int:
    """About how many bytes zstd's context takes to compress ``size`` bytes at ``level``
    (against a dictionary of ``dict_size`` bytes, if any), dictionary excluded."""
    return int(dict_params(level, size, dict_size).estimated_compression_context_size())


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


def _compressor(level: int, size: int) -> zstandard.ZstdCompressor:
    """A context for ``size`` bytes: kept by the thread for inputs of a frame or less (so it is
    allocated once, at a fixed size), made for the input otherwise."""
    if size > SMALL_INPUT:
        return zstandard.ZstdCompressor(compression_params=dict_params(level, size, 0))
    cache: dict[int, zstandard.ZstdCompressor] = getattr(_local, "c", None) or {}
    _local.c = cache
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(
            compression_params=dict_params(level, SMALL_INPUT, 0)
        )
    return cache[level]


def _decompressor() -> zstandard.ZstdDecompressor:
    d: zstandard.ZstdDecompressor | None = getattr(_local, "d", None)
    if d is None:
        d = zstandard.ZstdDecompressor(max_window_size=1 << MAX_WINDOW_LOG)
        _local.d = d
    return d
