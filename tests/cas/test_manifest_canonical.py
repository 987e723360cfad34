"""The manifest decoder accepts exactly one encoding per manifest and refuses unsafe trees.

Manifests here are written byte by byte (see :mod:`hostile`), so each test changes exactly one
encoding choice: key order, integer width, string/bin/array header width, float width.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import blake3
import msgpack
import pytest
from hostile import file_row, mp_array, mp_bin, mp_int, mp_map, mp_str, raw_manifest

from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData, UnsafePath
from flowpack.cas.manifest import FORMAT, MODE_EXEC, MODE_FILE, decode_manifest

CONTENT = b"print('hello')\n"
HASH = blake3.blake3(CONTENT).digest()


def handmade(
    *,
    key_order: tuple[str, ...] = ("files", "format", "kind", "links", "meta"),
    mode: bytes = mp_int(MODE_FILE),
    size: bytes = mp_int(len(CONTENT)),
    path: bytes = mp_str("flow.py"),
    file_hash: bytes = mp_bin(HASH),
    files_array: Callable[[list[bytes]], bytes] = mp_array,
    meta: bytes = mp_map([(mp_str("a"), mp_int(1)), (mp_str("b"), mp_int(2))]),
    fmt: str = FORMAT,
) -> bytes:
    """A one-file manifest, canonical unless an argument says otherwise."""
    row = mp_array([path, mode, size, file_hash, mp_array([])])
    values = {
        "files": files_array([row]),
        "format": mp_str(fmt),
        "kind": mp_str("bundle"),
        "links": mp_array([]),
        "meta": meta,
    }
    return mp_map([(mp_str(k), values[k]) for k in key_order])


def test_the_handmade_encoder_is_canonical() -> None:
    data = handmade()
    assert data == raw_manifest([file_row("flow.py", CONTENT)], meta={"a": 1, "b": 2})
    m = decode_manifest(data)
    assert m.encode() == data
    assert m.file("flow.py").digest == Digest.of(CONTENT)
    assert m.metadata == {"a": 1, "b": 2}


NON_CANONICAL = {
    "top-level keys out of order": handmade(key_order=("format", "files", "kind", "links", "meta")),
    "metadata keys out of order": handmade(
        meta=mp_map([(mp_str("b"), mp_int(2)), (mp_str("a"), mp_int(1))])
    ),
    "mode as uint32": handmade(mode=mp_int(MODE_FILE, width=4)),
    "mode as uint64": handmade(mode=mp_int(MODE_FILE, width=8)),
    "size as uint8": handmade(size=mp_int(len(CONTENT), width=1)),
    "metadata int as uint16": handmade(
        meta=mp_map([(mp_str("a"), mp_int(1, width=2)), (mp_str("b"), mp_int(2))])
    ),
    "path as str16": handmade(path=mp_str("flow.py", wide=True)),
    "hash as bin16": handmade(file_hash=mp_bin(HASH, wide=True)),
    "files as array16": handmade(files_array=lambda items: mp_array(items, wide=True)),
    "float32 in metadata": handmade(
        meta=mp_map([(mp_str("a"), b"\xca" + struct.pack(">f", 1.5)), (mp_str("b"), b"\x02")])
    ),
    "trailing bytes": handmade() + b"\xc0",
    "minor version": handmade(fmt=FORMAT + ".1"),
}


@pytest.mark.parametrize("data", NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_non_canonical_bytes_are_rejected(data: bytes) -> None:
    assert data != handmade()
    with pytest.raises(MalformedData) as info:
        decode_manifest(data)
    assert "\n" not in str(info.value)


def test_the_error_names_the_digest() -> None:
    data = NON_CANONICAL["mode as uint32"]
    d = Digest.of(data)
    with pytest.raises(MalformedData, match=d.hex):
        decode_manifest(data, d)


def row(path: str, content: bytes = CONTENT, mode: int = MODE_FILE) -> list[Any]:
    return file_row(path, content, mode)


def chunked(path: str, sizes: list[int], total: int) -> list[Any]:
    chunks = [[blake3.blake3(bytes([i])).digest(), s] for i, s in enumerate(sizes)]
    return [path, MODE_FILE, total, blake3.blake3(b"x").digest(), chunks]


MALFORMED = {
    "major version 2": raw_manifest([row("a")], fmt="flowpack.bundle.v2"),
    "major version 0": raw_manifest([row("a")], fmt="flowpack.bundle.v0"),
    "another format": raw_manifest([row("a")], fmt="tarball"),
    "chunk sizes that do not add up": raw_manifest([chunked("a", [3, 4], 10)]),
    "chunk sizes that overshoot": raw_manifest([chunked("a", [8, 4], 10)]),
    "one explicit chunk": raw_manifest([chunked("a", [10], 10)]),
    "an empty file with chunks": raw_manifest([chunked("a", [0, 0], 0)]),
    "an unknown mode": raw_manifest([row("a", mode=0o777)]),
    "a setuid mode": raw_manifest([row("a", mode=0o4755)]),
    "a short hash": raw_manifest([["a", MODE_FILE, 1, b"\x00" * 31, []]]),
    "a row too short": raw_manifest([["a", MODE_FILE, 1, HASH]]),
    "a negative size": raw_manifest([["a", MODE_FILE, -1, HASH, []]]),
    "a missing key": msgpack.packb({"files": [], "format": FORMAT, "kind": "bundle", "meta": {}}),
    "an extra key": msgpack.packb(
        {"files": [], "format": FORMAT, "kind": "bundle", "links": [], "meta": {}, "x": 1}
    ),
    "not a map": msgpack.packb([1, 2, 3]),
    "metadata not a map": raw_manifest([], meta=[1]),  # type: ignore[arg-type]
    "a malformed link": raw_manifest([], links=[[b"\x00" * 5, 1]]),
    "truncated": raw_manifest([row("a")])[:-3],
    "empty": b"",
    "garbage": b"\xc1\xff\x00",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_manifests_are_rejected(data: bytes) -> None:
    with pytest.raises(MalformedData) as info:
        decode_manifest(data)
    assert "\n" not in str(info.value)


UNSAFE = {
    "absolute path": [row("/etc/passwd")],
    "absolute nested path": [row("/tmp/x/y")],
    "dot-dot": [row("../evil")],
    "dot-dot inside": [row("a/../../evil")],
    "dot-dot at the end": [row("a/..")],
    "dot segment": [row("./a")],
    "empty segment": [row("a//b")],
    "trailing slash": [row("a/")],
    "empty path": [row("")],
    "backslash": [row("..\\evil")],
    "drive letter": [row("C:/Windows/evil")],
    "NUL byte": [row("a\0b")],
    "duplicate paths": [row("a"), row("a")],
    "a path under another file": [row("a"), row("a/b")],
    "a path under a symlink": [row("lib", b"/etc", 0o120777), row("lib/passwd")],
    "a path that is not text": [[b"a", MODE_FILE, 1, HASH, []]],
}


@pytest.mark.parametrize("files", UNSAFE.values(), ids=UNSAFE.keys())
def test_unsafe_trees_are_rejected(files: list[Any]) -> None:
    with pytest.raises(UnsafePath) as info:
        decode_manifest(raw_manifest(files))
    assert "\n" not in str(info.value)
    if isinstance(files[-1][0], bytes):
        assert "not text" in str(info.value)


def test_a_well_formed_handmade_tree_is_accepted() -> None:
    files = [row("a/b"), row("a/c", mode=MODE_EXEC), row("a.txt"), row("link", b"a/b", 0o120777)]
    m = decode_manifest(raw_manifest(sorted(files)))
    assert [f.path for f in m.files] == ["a.txt", "a/b", "a/c", "link"]
    assert m.file("link").is_symlink
