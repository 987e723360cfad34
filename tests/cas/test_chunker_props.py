"""Property tests for the content-defined chunker: coverage, determinism, bounds, resync."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowpack.cas.chunker import Chunker, ChunkerParams
from flowpack.cas.errors import UsageError

#: Small parameters, so that hypothesis-sized inputs span many chunks.
SMALL = ChunkerParams(avg_size=1024, min_size=256, max_size=4096)
SMALL_CHUNKER = Chunker(SMALL)
DEFAULT_CHUNKER = Chunker()


def seeded(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def check_cuts(params: ChunkerParams, data: bytes, cuts: list[tuple[int, int]]) -> None:
    """Cuts tile ``data`` exactly and respect min/max (the last one may be shorter)."""
    pos = 0
    for off, n in cuts:
        assert off == pos and n > 0
        pos += n
    assert pos == len(data)
    if len(data) <= params.min_size:
        assert cuts == ([(0, len(data))] if data else [])
        return
    for _, n in cuts[:-1]:
        assert params.min_size <= n <= params.max_size
    assert cuts[-1][1] <= params.max_size


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=40_000))
def test_cuts_cover_input_and_respect_bounds(data: bytes) -> None:
    cuts = list(SMALL_CHUNKER.cut(data))
    check_cuts(SMALL, data, cuts)
    assert list(SMALL_CHUNKER.cut(memoryview(data))) == cuts
    assert list(Chunker(SMALL).cut(bytes(data))) == cuts, "a new chunker cuts the same way"


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(0, 300_000),
    runs=st.lists(st.tuples(st.integers(0, 255), st.integers(1, 20_000)), max_size=4),
)
def test_bounds_hold_on_mixed_entropy_input(
    seed: int, size: int, runs: list[tuple[int, int]]
) -> None:
    """Random bytes interleaved with long constant runs (where only max_size can cut)."""
    data = seeded(seed, size) + b"".join(bytes([b]) * n for b, n in runs)
    for params, chunker in ((SMALL, SMALL_CHUNKER), (DEFAULT_CHUNKER.params, DEFAULT_CHUNKER)):
        cuts = list(chunker.cut(data))
        check_cuts(params, data, cuts)
        assert list(chunker.cut(data)) == cuts


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(60_000, 120_000),
    prefix=st.binary(min_size=1, max_size=5_000),
)
def test_inserting_at_the_front_shifts_later_cuts(seed: int, size: int, prefix: bytes) -> None:
    """Content-defined: after the first common cut, every later cut is the old one, shifted."""
    data = seeded(seed, size)
    old = [off + n for off, n in SMALL_CHUNKER.cut(data)]
    new = [off + n - len(prefix) for off, n in SMALL_CHUNKER.cut(prefix + data)]
    common = set(old) & set(new)
    first = min(common)
    i, j = old.index(first), new.index(first)
    assert old[i:] == new[j:], "cuts after a resynchronisation must all be the same"
    assert i <= 24, f"took {i} chunks to resynchronise"
    assert len(common) >= len(old) // 2, (len(common), len(old))


def test_default_chunker_resynchronises_after_an_insertion() -> None:
    data = seeded(7, 4 << 20)
    old = [off + n for off, n in DEFAULT_CHUNKER.cut(data)]
    for prefix in (b"x", b"#!/usr/bin/env python\n", seeded(8, 10_000)):
        new = {off + n - len(prefix) for off, n in DEFAULT_CHUNKER.cut(prefix + data)}
        kept = [e for e in old if e in new]
        assert len(kept) >= len(old) - 6, (len(kept), len(old))


def test_small_inputs_are_one_chunk() -> None:
    p = DEFAULT_CHUNKER.params
    assert list(DEFAULT_CHUNKER.cut(b"")) == []
    assert list(DEFAULT_CHUNKER.cut(b"a")) == [(0, 1)]
    assert list(DEFAULT_CHUNKER.cut(bytes(p.min_size))) == [(0, p.min_size)]


@given(
    avg=st.integers(64, 1 << 20),
    lo=st.integers(64, 1 << 20),
    hi=st.integers(64, 1 << 20),
    norm=st.integers(0, 3),
)
def test_params_identity_round_trips(avg: int, lo: int, hi: int, norm: int) -> None:
    lo, avg, hi = sorted((avg, lo, hi))
    p = ChunkerParams(avg_size=avg, min_size=lo, max_size=hi, normalization=norm)
    assert ChunkerParams.from_identity(p.identity) == p


@pytest.mark.parametrize(
    "text",
    [
        "rabin:min=1,avg=2,max=3,norm=2",
        "fastcdc2020:min=4096,avg=16384",
        "fastcdc2020:min=x,avg=16384,max=65536,norm=2",
        "fastcdc2020:min=65536,avg=16384,max=4096,norm=2",
        "fastcdc2020:min=4096,avg=16384,max=65536,norm=9",
        "",
    ],
)
def test_bad_identities_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        ChunkerParams.from_identity(text)
