"""A manifest assembled from encoded entries is byte for byte :meth:`Manifest.encode`'s, and a
:class:`ManifestView` finds each file of it without decoding the others."""

from __future__ import annotations

import pytest

from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData, UsageError
from flowpack.cas.manifest import (
    MAX_ENTRIES,
    MODE_EXEC,
    MODE_FILE,
    FileEntry,
    Manifest,
    encode_entry,
    encode_from_entries,
)
from flowpack.cas.manifestview import ManifestView


def entry(path: str, data: bytes, mode: int = MODE_FILE) -> FileEntry:
    d = Digest.of(data)
    return FileEntry(path, mode, len(data), d, (d,) if data else ())


TAIL = Digest.of(b"4567")
FILES = tuple(
    sorted(
        [
            entry("a.txt", b"a"),
            entry("a/b", b"b" * 300, MODE_EXEC),
            entry("a-b", b""),
            entry("z/y/x", b"x"),
            FileEntry(
                "big", MODE_FILE, 7, Digest.of(b"1234567"), (Digest.of(b"123"), Digest.of(b"4567"))
            ),
        ],
        key=lambda f: f.path,
    )
)


@pytest.mark.parametrize("meta", [{}, {"b": [1, {"z": 2, "a": None}], "a": b"x"}])
def test_assembled_from_entries_equals_encode(meta: dict[str, object]) -> None:
    links = (Digest.of(b"other"),)
    m = Manifest("bundle", FILES, links, meta)
    pieces = encode_from_entries(
        "bundle", len(FILES), [encode_entry(f) for f in FILES], links, meta
    )
    assert b"".join(pieces) == m.encode()
    empty = encode_from_entries("bundle", 0, [])
    assert b"".join(empty) == Manifest("bundle").encode()


def test_too_many_files_are_refused_before_assembly() -> None:
    with pytest.raises(UsageError, match="at most"):
        encode_from_entries("bundle", MAX_ENTRIES + 1, [])


def test_a_view_finds_each_file() -> None:
    view = ManifestView(Manifest("bundle", FILES).encode())
    assert len(view) == len(FILES) and list(view.paths()) == [f.path for f in FILES]
    for f in FILES:
        assert view.get(f.path) == f
    assert view.get("a") is None and view.get("zz") is None and view.get("") is None


def test_a_view_of_bad_bytes_is_malformed() -> None:
    for bad in (b"", b"\x81\xa4kind\xa6bundle", Manifest("bundle", FILES).encode()[:40]):
        with pytest.raises(MalformedData):
            ManifestView(bad).get("a.txt")
