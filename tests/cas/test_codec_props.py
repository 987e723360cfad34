"""Codec round trips (plain and against a dictionary), raw fallback, and zstd bombs."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest
import zstandard
from hostile import rle_bomb
from hypothesis import given, settings
from hypothesis import strategies as st

from flowpack.cas import codec
from flowpack.cas.errors import MalformedData

GIB = 1 << 30


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=50_000), level=st.sampled_from([1, 3, 9]))
def test_round_trip(data: bytes, level: int) -> None:
    enc = codec.compress(data, level=level)
    assert enc.codec in (codec.RAW, codec.ZSTD)
    assert len(enc.payload) <= len(data)
    assert codec.decompress(enc.codec, enc.payload, len(data)) == data


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(1, 40_000),
    edits=st.lists(st.tuples(st.integers(0, 40_000), st.binary(max_size=50)), max_size=8),
)
def test_round_trip_against_a_dictionary(
    seed: int, size: int, edits: list[tuple[int, bytes]]
) -> None:
    base = random.Random(seed).randbytes(size)
    data = bytearray(base)
    for pos, new in edits:
        data[pos : pos + len(new)] = new
    data = bytes(data)
    enc = codec.compress(data, dictionary=base)
    assert codec.decompress(enc.codec, enc.payload, len(data), dictionary=base) == data
    if len(data) >= 1000:
        assert enc.codec == codec.ZSTD_DICT, "a near-copy of the base must use it"
        assert len(enc.payload) < len(data) // 4


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(1, 100_000))
def test_incompressible_data_is_stored_raw(seed: int, size: int) -> None:
    data = random.Random(seed).randbytes(size)
    for dictionary in (b"", random.Random(seed + 1).randbytes(4096)):
        enc = codec.compress(data, dictionary=dictionary)
        assert enc.codec == codec.RAW and enc.payload == data
        assert codec.decompress(enc.codec, enc.payload, size) == data


def test_empty_input_is_raw() -> None:
    assert codec.compress(b"") == codec.Encoded(codec.RAW, b"")
    assert codec.decompress(codec.RAW, b"", 0) == b""


def test_dictionary_frames_need_their_dictionary() -> None:
    base = bytes(range(256)) * 64
    enc = codec.compress(base[::-1] + base, dictionary=base)
    assert enc.codec == codec.ZSTD_DICT
    with pytest.raises(MalformedData):
        codec.decompress(enc.codec, enc.payload, 2 * len(base))
    # zstd frames carry no checksum: a wrong base gives wrong bytes (which the reader's
    # re-hash of every record catches), or an error, never the original.
    try:
        wrong = codec.decompress(enc.codec, enc.payload, 2 * len(base), dictionary=b"x" * 999)
    except MalformedData:
        return
    assert wrong != base[::-1] + base


@pytest.mark.parametrize(
    ("codec_id", "payload", "size"),
    [
        (codec.RAW, b"abc", 4),
        (codec.ZSTD, b"not zstd at all", 10),
        (codec.ZSTD, b"", 10),
        (7, b"abc", 3),
        (codec.ZSTD, codec.compress(b"a" * 1000).payload, 999),
        (codec.ZSTD, codec.compress(b"a" * 1000).payload, 1001),
        (codec.ZSTD, codec.compress(b"a" * 1000).payload[:-2], 1000),
    ],
)
def test_bad_payloads_are_malformed(codec_id: int, payload: bytes, size: int) -> None:
    with pytest.raises(MalformedData):
        codec.decompress(codec_id, payload, size)


def test_the_handmade_bomb_is_a_real_zstd_frame() -> None:
    """The RLE frames the bomb tests use decode with plain zstd to what they claim."""
    frame = rle_bomb(1 << 20)
    assert len(frame) < 64
    assert zstandard.ZstdDecompressor().decompressobj().decompress(frame) == b"A" * (1 << 20)
    assert codec.decompress(codec.ZSTD, frame, 1 << 20) == b"A" * (1 << 20)
    sized = rle_bomb(300_000, content_size=300_000)
    assert codec.decompress(codec.ZSTD, sized, 300_000) == b"A" * 300_000


BOMBS = [
    pytest.param(rle_bomb(4 * GIB, content_size=100), codec.ZSTD, id="lies-small"),
    pytest.param(rle_bomb(4 * GIB), codec.ZSTD, id="no-size"),
    pytest.param(rle_bomb(1 << 20, content_size=4 * GIB), codec.ZSTD, id="claims-huge"),
    pytest.param(rle_bomb(4 * GIB), codec.ZSTD_DICT, id="no-size-dict"),
]


@pytest.mark.parametrize(("frame", "codec_id"), BOMBS)
def test_zstd_bomb_fails_without_allocating_its_size(frame: bytes, codec_id: int) -> None:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with pytest.raises(MalformedData):
            codec.decompress(codec_id, frame, 100, dictionary=b"d" * 1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"decoding a bomb allocated {peak} bytes"


def test_zstd_bomb_keeps_process_memory_small(tmp_path: Path) -> None:
    """In a fresh process (so that resident memory says something), bombs leave RSS flat."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from hostile import rle_bomb
        from flowpack.cas import codec
        from flowpack.cas.errors import MalformedData
        bombs = [rle_bomb(8 << 30, content_size=1000), rle_bomb(8 << 30)]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for frame in bombs:
            for size in (1000, 1 << 20):
                try:
                    codec.decompress(codec.ZSTD, frame, size)
                except MalformedData:
                    pass
                else:
                    sys.exit("a bomb decoded")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(after - before)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    growth_kib = int(proc.stdout)
    assert growth_kib < 32 * 1024, f"resident memory grew by {growth_kib} KiB"


def test_oversized_window_is_refused() -> None:
    frame = bytearray(rle_bomb(1000))
    frame[5] = (codec.MAX_WINDOW_LOG + 2 - 10) << 3  # the window descriptor byte
    assert zstandard.get_frame_parameters(bytes(frame)).window_size > 1 << codec.MAX_WINDOW_LOG
    with pytest.raises(MalformedData):
        codec.decompress(codec.ZSTD, bytes(frame), 1000)
