"""Pack round trips: PackBuilder, then every frame back through split_frame, and the trailer
back through read_trailer / decode_trailer, whatever the tail a reader happened to fetch."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hostile import rle_bomb
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flowpack.cas import codec
from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData
from flowpack.cas.pack import (
    DATA,
    MAGIC,
    MANIFEST,
    OBJECT,
    TRAILER,
    TRAILER_MAGIC,
    TRAILER_V1,
    FrameHeader,
    PackBuilder,
    SealedPack,
    decode_trailer,
    encode_frame,
    frame_slot,
    read_trailer,
    split_frame,
)

records = st.lists(
    st.one_of(
        st.binary(max_size=3000),
        st.builds(
            lambda s, n: random.Random(s).randbytes(n), st.integers(0, 99), st.integers(0, 9000)
        ),
        st.builds(lambda b, n: bytes([b]) * n, st.integers(0, 255), st.integers(1, 20_000)),
    ),
    min_size=1,
    max_size=6,
)
frames = st.lists(st.tuples(st.sampled_from([DATA, MANIFEST, OBJECT]), records), max_size=8)


def build(
    spec: list[tuple[int, list[bytes]]], *, first_format: bool = False
) -> tuple[SealedPack, list[list[bytes]]]:
    builder = PackBuilder(first_format=first_format)
    for kind, recs in spec:
        builder.add(*encode_frame(kind, [(Digest.of(r), r) for r in recs]))
    assert len(builder) == len(spec)
    return builder.build(), [recs for _, recs in spec]


def read_back(pack: SealedPack, tail_len: int) -> tuple[int, bytes]:
    """What a reader does: fetch a tail, and fetch the whole trailer if the tail was short."""
    size = len(pack.data)
    offset, body = read_trailer(pack.data[-tail_len:], size)
    want = size - offset - TRAILER.size
    if len(body) < want:
        body = pack.data[offset : offset + want]
    return offset, body


@settings(max_examples=100, deadline=None)
@given(spec=frames, tail=st.integers(TRAILER.size, 1 << 16), first_format=st.booleans())
def test_round_trip(spec: list[tuple[int, list[bytes]]], tail: int, first_format: bool) -> None:
    pack, expected = build(spec, first_format=first_format)
    assert pack.data.startswith(MAGIC)
    assert pack.data.endswith(TRAILER_V1 if first_format else TRAILER_MAGIC)
    assert pack.digest == Digest.of(pack.data)
    offset, body = read_back(pack, tail)
    listed = tuple(f.digests() for f in pack.frames) if first_format and spec else None
    assert decode_trailer(body) == (tuple(map(frame_slot, pack.frames)), listed)
    pos = len(MAGIC)
    for span, (kind, _), recs in zip(pack.frames, spec, expected, strict=True):
        entry = span.entry()
        assert entry.offset == pos, "frames tile the pack in order"
        pos += entry.length
        header, payload = split_frame(pack.data[entry.offset : entry.offset + entry.length])
        assert header.kind == entry.kind == kind
        assert entry.records == tuple(Digest.of(r) for r in recs)
        assert header.sizes == tuple(map(len, recs))
        assert header.listed == (entry.records if first_format else ())
        assert header.raw_size == sum(map(len, recs))
        assert header.bases == () and header.depth == 0
        raw = codec.decompress(header.codec, payload, header.raw_size)
        assert raw == b"".join(recs)
    assert pos == offset, "the trailer follows the last frame"


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1000, 30_000), depth=st.integers(0, 11))
def test_frames_against_bases(seed: int, n: int, depth: int) -> None:
    rng = random.Random(seed)
    base = rng.randbytes(n)
    new = base[: n // 2] + rng.randbytes(16) + base[n // 2 :]
    base_d, new_d = Digest.of(base), Digest.of(new)
    header, payload, digests = encode_frame(
        DATA, [(new_d, new)], bases=[base_d], dictionary=base, depth=depth + 1
    )
    assert header.codec == codec.ZSTD_DICT and digests == (new_d,)
    assert header.bases == (base_d,) and header.depth == depth + 1
    builder = PackBuilder()
    builder.add(header, payload, digests)
    pack = builder.build()
    ((offset, length, kind, got_depth),), _ = decode_trailer(read_back(pack, 64)[1])
    assert got_depth == depth + 1 and kind == DATA
    got, body = split_frame(pack.data[offset : offset + length])
    assert got == header
    assert codec.decompress(got.codec, body, got.raw_size, dictionary=base) == new


def test_incompressible_frames_drop_their_bases() -> None:
    data = random.Random(1).randbytes(5000)
    header, payload, _ = encode_frame(
        DATA, [(Digest.of(data), data)], bases=[Digest.of(b"x")], dictionary=b"x", depth=3
    )
    assert header.codec == codec.RAW and payload == data
    assert header.bases == () and header.depth == 0


def sample_pack() -> SealedPack:
    return build([(DATA, [b"a" * 1000, b"b" * 10]), (MANIFEST, [b"manifest"])])[0]


def test_empty_pack_round_trips() -> None:
    pack = PackBuilder().build()
    assert decode_trailer(read_back(pack, 100)[1]) == ((), None)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:-1],
        lambda d: d[:-1] + b"X",
        lambda d: d[: -TRAILER.size] + TRAILER.pack(len(d), TRAILER_MAGIC),
        lambda d: d[: -TRAILER.size] + TRAILER.pack(0, TRAILER_MAGIC),
        lambda d: d[:4],
    ],
    ids=["truncated", "bad-magic", "length-too-long", "empty-trailer", "tiny"],
)
def test_damaged_trailers_are_malformed(damage: Callable[[bytes], bytes]) -> None:
    data = damage(sample_pack().data)
    with pytest.raises(MalformedData):
        _, body = read_trailer(data[-4096:], len(data))
        decode_trailer(body)


def test_trailer_bombs_are_refused() -> None:
    pack = sample_pack()
    for frame in (rle_bomb(1 << 30), rle_bomb(1 << 30, content_size=1 << 30)):
        with pytest.raises(MalformedData):
            decode_trailer(bytes([codec.ZSTD]) + frame)
    assert decode_trailer(read_back(pack, 4096)[1])[0] == tuple(map(frame_slot, pack.frames))


@settings(max_examples=30, deadline=None)
@given(spec=frames)
def test_a_pack_names_no_record_and_the_first_format_names_each_twice(
    spec: list[tuple[int, list[bytes]]],
) -> None:
    """A record's digest is the hash of its bytes, so a pack lists sizes only (the index file
    lists the digests); the first format listed each in its frame header and its trailer."""
    every = [r for _, recs in spec for r in recs]
    assume(len(set(every)) == len(every))  # a writer stores each record once
    pack, _ = build(spec)
    first, _ = build(spec, first_format=True)
    listed = [r.raw for f in pack.frames for r in f.digests()]
    assert sum(pack.data.count(raw) for raw in set(listed)) == 0
    assert sum(first.data.count(raw) for raw in set(listed)) == 2 * len(listed)
    assert len(pack.data) <= len(first.data) - 70 * len(listed)


def frame_bytes() -> bytes:
    pack = sample_pack()
    e = pack.frames[0]
    return pack.data[e.offset : e.offset + e.length]


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x01\x00",
        b"\xff\xff\xff\xff" + b"x" * 10,
        frame_bytes()[:-1],
        frame_bytes() + b"x",
        FrameHeader(DATA, codec.RAW, 5, 5, 0, (), (4,)).encode() + b"abcde",
        FrameHeader(DATA, codec.RAW, 1 << 30, 1, 0, (), (1 << 30,)).encode() + b"x",
        FrameHeader(DATA, codec.RAW, 5, 5, 0, (), (5,)).encode([Digest.of(b"abcd")]) + b"abcde",
        FrameHeader(DATA, codec.RAW, 0, 0, 0, (), (-1, 1)).encode(),
        (4).to_bytes(4, "little") + b"\x93\x01\x02\x03",
    ],
    ids=[
        "empty",
        "short-length",
        "header-length-past-end",
        "short-payload",
        "long-payload",
        "sizes-disagree",
        "raw-size-over-limit",
        "first-format-sizes-disagree",
        "negative-size",
        "header-too-short",
    ],
)
def test_damaged_frames_are_malformed(frame: bytes) -> None:
    with pytest.raises(MalformedData):
        split_frame(frame)
