"""Manifest round trips and canonical encoding, for any manifest hypothesis can build."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowpack.cas.digest import Digest
from flowpack.cas.manifest import MODES, FileEntry, Manifest, ManifestBuilder, decode_manifest

# Segment text: anything but '/', '\\', NUL and ':' (a leading "X:" reads as a drive letter).
_SEGMENT = st.text(
    st.characters(blacklist_characters="/\\\0:", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
)
raw_hashes = st.binary(min_size=32, max_size=32)


@st.composite
def paths(draw: st.DrawFn) -> str:
    """A safe relative path: directories start with 'd', files with 'f', so none nests."""
    dirs = draw(st.lists(_SEGMENT, max_size=3))
    name = draw(_SEGMENT)
    return "/".join([*("d" + d for d in dirs), "f" + name])


@st.composite
def entries(draw: st.DrawFn, path: str) -> FileEntry:
    mode = draw(st.sampled_from(MODES))
    n = draw(st.integers(0, 4))
    if n == 0:
        return FileEntry(path, mode, 0, Digest.of(b""), ())
    sizes = draw(st.lists(st.integers(1, 1 << 40), min_size=n, max_size=n))
    digest = Digest.from_raw(draw(raw_hashes), sum(sizes))
    if n == 1:
        return FileEntry(path, mode, digest.size, digest, (digest,))
    chunks = tuple(Digest.from_raw(draw(raw_hashes), s) for s in sizes)
    return FileEntry(path, mode, digest.size, digest, chunks)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
meta_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    builder = ManifestBuilder(draw(st.sampled_from(["bundle", "registration", "run", "x"])))
    for path in draw(st.lists(paths(), max_size=8, unique=True)):
        builder.add_file(draw(entries(path)))
    for raw in draw(st.lists(raw_hashes, max_size=3)):
        builder.add_link(Digest.from_raw(raw, draw(st.integers(0, 1 << 30))))
    builder.metadata.update(draw(st.dictionaries(st.text(max_size=10), meta_values, max_size=5)))
    return builder.build()


@settings(max_examples=200, deadline=None)
@given(m=manifests())
def test_round_trip(m: Manifest) -> None:
    data = m.encode()
    back = decode_manifest(data, Digest.of(data))
    assert back == m
    assert back.encode() == data
    assert [f.path for f in back.files] == sorted(f.path for f in m.files)


@settings(max_examples=100, deadline=None)
@given(m=manifests(), seed=st.integers(0, 2**32))
def test_encoding_ignores_insertion_order(m: Manifest, seed: int) -> None:
    """Files added in any order, metadata keys in any order: the same bytes, the same digest."""
    rng = random.Random(seed)
    files = list(m.files)
    rng.shuffle(files)
    builder = ManifestBuilder(m.kind)
    for f in files:
        builder.add_file(f)
    for link in m.links:
        builder.add_link(link)
    builder.metadata.update(_shuffled(m.metadata, rng))
    assert builder.build().encode() == m.encode()


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@settings(max_examples=100, deadline=None)
@given(m=manifests(), data=st.data())
def test_any_change_of_a_byte_is_rejected_or_changes_the_manifest(
    m: Manifest, data: st.DataObject
) -> None:
    """Flipping a byte never yields a different encoding of the same manifest."""
    raw = bytearray(m.encode())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    try:
        other = decode_manifest(bytes(raw))
    except ValueError:  # MalformedData and UnsafePath are both ValueErrors
        return
    assert other.encode() == bytes(raw)
    assert other != m
