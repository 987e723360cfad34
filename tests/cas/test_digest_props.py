"""Digest parse/format round trips and the refusal of everything that is not a digest."""

from __future__ import annotations

import re

import blake3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowpack.cas.digest import Digest, looks_like_digest, parse_prefix
from flowpack.cas.errors import InvalidDigest

hexes = st.binary(min_size=32, max_size=32).map(bytes.hex)
sizes = st.integers(0, 1 << 62)
_FULL = re.compile("blake3:[0-9a-f]{64}")


@given(hex_=hexes, size=sizes)
def test_format_parse_round_trip(hex_: str, size: int) -> None:
    d = Digest(hex_, size)
    text = str(d)
    assert text == f"blake3:{hex_}"
    assert Digest.parse(text, size) == d
    assert Digest.parse(f"  {text}\n", size) == d
    assert Digest.from_raw(d.raw, size) == d
    assert d.short == hex_[:12]
    assert parse_prefix(text) == hex_
    assert parse_prefix(text.upper().replace("BLAKE3", "blake3")) == hex_
    assert looks_like_digest(text)


@given(data=st.binary(max_size=5000))
def test_of_matches_blake3(data: bytes) -> None:
    d = Digest.of(data)
    assert d.hex == blake3.blake3(data).hexdigest() and d.size == len(data)
    assert d.matches(data)
    assert not d.matches(data + b"\0")
    if data:
        assert not d.matches(bytes([data[0] ^ 1]) + data[1:])


def test_large_inputs_hash_like_small_ones() -> None:
    data = bytes(range(256)) * 8192  # 2 MiB: the multi-threaded path
    assert Digest.of(data).hex == blake3.blake3(data).hexdigest()


@given(hex_=hexes, n=st.integers(8, 64))
def test_prefixes(hex_: str, n: int) -> None:
    assert parse_prefix(hex_[:n]) == hex_[:n]
    assert parse_prefix("blake3:" + hex_[:n]) == hex_[:n]


@given(text=st.text(max_size=80).filter(lambda t: not _FULL.fullmatch(t.strip())))
def test_not_digests(text: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(text, 0)


BAD = [
    "",
    "blake3:",
    "blake3:" + "a" * 63,
    "blake3:" + "a" * 65,
    "blake3:" + "A" * 64,
    "sha256:" + "a" * 64,
    "a" * 64,
    "blake3:" + "g" * 64,
    "blake3: " + "a" * 64,
    "blake3:" + "a" * 32 + "\n" + "a" * 32,
]


@pytest.mark.parametrize("text", BAD)
def test_bad_text_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(InvalidDigest) as info:
        Digest.parse(text, 1)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("hex_", "size"), [("a" * 63, 0), ("A" * 64, 0), ("g" * 64, 0), ("a" * 64, -1)]
)
def test_bad_values_are_refused(hex_: str, size: int) -> None:
    with pytest.raises(InvalidDigest):
        Digest(hex_, size)


@pytest.mark.parametrize("raw", [b"", b"\0" * 31, b"\0" * 33])
def test_bad_raw_lengths_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidDigest):
        Digest.from_raw(raw, 0)


@pytest.mark.parametrize("text", ["abc", "blake3:1234567", "xyz12345678", "ref/name", "g" * 12])
def test_bad_prefixes_are_refused(text: str) -> None:
    with pytest.raises(InvalidDigest):
        parse_prefix(text)


def test_digests_order_and_hash_as_values() -> None:
    a, b = Digest("0" * 64, 5), Digest("f" * 64, 1)
    assert a < b and len({a, Digest("0" * 64, 5), b}) == 2
    assert a != Digest("0" * 64, 6), "the size is part of the value"
