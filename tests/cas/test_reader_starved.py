"""Reads stay linear when the process's decoded-frame cache has no room left for this reader.

All readers of a process share one memory budget (``cas/memory.py``): a store left open with a
full cache leaves another store's reader room for one frame.  Decoding a frame decodes its
bases first, and theirs, transitively; with no cache, a frame reached through two bases used to
be decoded again for each path, work exponential in the depth of history (a pull of the last of
20 Pygments versions in the process that had pushed them ran for minutes).  Within one read,
each frame is now decoded once.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from wholestore import cached_store as open_store

from flowpack.cas.digest import Digest
from flowpack.cas.reader import ChunkReader
from flowpack.cas.restore import restore_tree
from flowpack.cas.tree import SourceFile


def versions(count: int) -> list[list[SourceFile]]:
    """A 600 KB text file edited in many places per version, so chunk boundaries move and a
    new chunk overlaps (and is compressed against) several old ones."""
    rng = random.Random(7)
    words = [f"w{i}" for i in range(3000)]
    lines = [" ".join(rng.choices(words, k=10)) for _ in range(12000)]
    out = []
    for _ in range(count):
        for _ in range(40):
            lines.insert(rng.randrange(len(lines)), " ".join(rng.choices(words, k=10)))
        out.append([SourceFile.from_bytes("big.txt", ("\n".join(lines) + "\n").encode())])
    return out


def test_no_frame_is_decoded_twice_within_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path)
    history = versions(14)
    prev: Digest | None = None
    for files in history:
        prev = store.put_files(files, parent=prev).digest
    assert prev is not None
    fresh = open_store(tmp_path)
    fresh.reader.budget.cache(fresh.reader.budget.total)  # another reader's frames fill it
    per_read: list[Counter[tuple[str, int]]] = []
    decode, get = ChunkReader._decode, ChunkReader.get

    def counting_get(self: ChunkReader, digest: Digest) -> bytes:
        per_read.append(Counter())
        return get(self, digest)

    def counting_decode(self: ChunkReader, loc: Any, *args: Any) -> dict[bytes, bytes]:
        per_read[-1][(loc.pack.hex, loc.frame_offset)] += 1
        return decode(self, loc, *args)

    monkeypatch.setattr(ChunkReader, "get", counting_get)
    monkeypatch.setattr(ChunkReader, "_decode", counting_decode)
    try:
        restore_tree(fresh, prev, tmp_path / "out")
    finally:
        fresh.reader.budget.cache(-fresh.reader.budget.total)
    assert (tmp_path / "out" / "big.txt").read_bytes() == history[-1][0].read()
    decodes = [n for reads in per_read for n in reads.values()]
    assert sum(decodes) > len(per_read), "the read went through delta bases"
    assert max(decodes) == 1, "a frame was decoded twice within one read"
