"""The in-memory index as one sorted table: every copy of a chunk is found, the copy outside
condemned packs is preferred, write sessions' tables merge, and bad index files are refused."""

from __future__ import annotations

import os

import pytest

from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData
from flowpack.cas.frames import FrameEntry
from flowpack.cas.index import MAX_TABLES, Index, IndexFile, PackEntry


def pack_of(*chunks: Digest, depth: int = 0) -> PackEntry:
    return PackEntry(Digest.of(os.urandom(16)), (FrameEntry(0, 100, 0, depth, chunks),))


def chunks(n: int) -> list[Digest]:
    return [Digest.of(b"chunk %d" % i) for i in range(n)]


@pytest.mark.parametrize("n", [1, 300, 70_000])  # 256 buckets, then 65,536
def test_every_chunk_is_found_where_it_lies(n: int) -> None:
    cs = chunks(n)
    packs = [pack_of(*cs[i : i + 1000]) for i in range(0, n, 1000)]
    index = Index()
    index.replace({"a": IndexFile.of(packs)})
    for i in range(0, n, max(1, n // 500)):
        loc = index.get(cs[i])
        assert loc is not None and loc.pack == packs[i // 1000].pack
        assert loc.offset == sum(c.size for c in cs[(i // 1000) * 1000 : i])
    assert len(index) == n and sorted(d for d, _ in index.items()) == sorted(cs)
    assert index.get(Digest.of(b"absent")) is None
    assert index.get(Digest(cs[0].hex, cs[0].size + 1)) is None  # same hash, other size


def test_a_copy_outside_condemned_packs_is_preferred() -> None:
    c = Digest.of(b"twice")
    first, second = pack_of(c), pack_of(c, depth=3)
    files = {"a": IndexFile.of([first]), "b": IndexFile.of([second])}
    index = Index()
    index.replace(files)
    loc = index.get(c)
    assert loc is not None and loc.pack == first.pack  # the first added wins
    index.replace(files, frozenset({first.pack.hex}))
    loc = index.get(c)
    assert loc is not None and loc.pack == second.pack and c in index
    index.replace(files, frozenset({first.pack.hex, second.pack.hex}))
    loc = index.get(c)
    assert loc is not None and loc.pack == first.pack and c not in index  # readable, not held


def test_sessions_add_tables_that_merge() -> None:
    index = Index()
    index.replace({})
    cs = chunks(3 * MAX_TABLES)
    added = [pack_of(c) for c in cs]
    for p in added:
        index.add_file(IndexFile.of([p]))
    assert all(index.get(c) is not None for c in cs)
    assert {p.pack.hex for p in added} == index.pack_hexes()
    assert [f.records for p in index.packs() for f in p.frames] == [(c,) for c in cs]


def test_an_index_file_round_trips_and_bad_ones_are_refused() -> None:
    import msgpack

    from flowpack.cas import codec

    def frames_doc(frames: tuple[FrameEntry, ...]) -> list[object]:
        return [
            [f.offset, f.length, f.kind, f.depth, [[r.raw, r.size] for r in f.records]]
            for f in frames
        ]

    f = IndexFile.of([pack_of(*chunks(50)), pack_of(*chunks(3))], supersedes=["ab" * 32])
    data = f.encode()
    doc = {  # the document as a whole, as index files have always been written
        "packs": [[p.pack.raw, p.pack.size, frames_doc(p.frames)] for p in f.packs],
        "supersedes": [bytes.fromhex("ab" * 32)],
        "v": 1,
    }
    raw = msgpack.packb(doc, use_bin_type=True)
    assert codec.decompress(data[0], data[9:], len(raw)) == raw
    assert IndexFile.decode(data) == f
    assert IndexFile.decode(data).packs == f.packs
    for bad in (data[:20], data[:1] + (10**9).to_bytes(8, "little") + data[9:], b"\x00" * 9):
        with pytest.raises(MalformedData):
            IndexFile.decode(bad)


@pytest.mark.parametrize(
    "doc",
    [
        {"packs": [[b"p" * 32, 10, [[0, 10, 0, 0, [[b"h" * 31, 3]]]]]], "supersedes": [], "v": 1},
        {"packs": [[b"p" * 32, 10, [[0, 10, 0, 0, [[b"h" * 32, -3]]]]]], "supersedes": [], "v": 1},
        {"packs": [[b"p" * 32, 10]], "supersedes": [], "v": 1},
        {"packs": [], "supersedes": [], "v": 2},
        {"packs": [], "supersedes": ["text"], "v": 1},
        {"packs": [], "v": 1},
    ],
)
def test_an_index_file_of_the_wrong_shape_is_refused(doc: dict[str, object]) -> None:
    import msgpack

    from flowpack.cas import codec

    raw = msgpack.packb(doc, use_bin_type=True)
    enc = codec.compress(raw, level=3)
    with pytest.raises(MalformedData):
        IndexFile.decode(bytes([enc.codec]) + len(raw).to_bytes(8, "little") + enc.payload)
