"""Streaming chunking cuts exactly where whole-buffer chunking does."""

from __future__ import annotations

import io
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from flowpack.cas.chunker import Chunker, ChunkerParams

SMALL = ChunkerParams(avg_size=1024, min_size=256, max_size=4096)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 40_000), seed=st.integers(0, 2**32))
def test_stream_cuts_equal_buffer_cuts(size: int, seed: int) -> None:
    data = random.Random(seed).randbytes(size)
    chunker = Chunker(SMALL)
    streamed = [(off, bytes(piece)) for off, piece in chunker.cut_stream(io.BytesIO(data))]
    whole = [(off, data[off : off + n]) for off, n in chunker.cut(data)]
    assert streamed == whole
    assert b"".join(p for _, p in streamed) == data


def test_default_parameters_stream_a_large_input_identically() -> None:
    data = random.Random(7).randbytes(3_000_000)
    chunker = Chunker()
    streamed = [(off, len(piece)) for off, piece in chunker.cut_stream(io.BytesIO(data))]
    assert streamed == list(chunker.cut(data))
    assert len(streamed) > 10
