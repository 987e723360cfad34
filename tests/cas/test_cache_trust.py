"""Local caches are never trusted blindly: a swapped frame is dropped and read from the store,
and a store re-created under the same URL is not mistaken for the one the cache remembers."""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from pathlib import Path

from test_frame_cache import open_remote

from flowpack.cas.config import load_config
from flowpack.cas.opening import open_store
from flowpack.cas.tree import SourceFile
from flowpack.cas.verify import verify


def test_a_cached_frame_swapped_with_another_of_the_same_length(tmp_path: Path) -> None:
    """Two cached frames of equal length, swapped: every read still returns the right bytes,
    from the store, and the bad entries are replaced (later reads need no store read)."""
    store, _ = open_remote(tmp_path)
    one, two = os.urandom(3000), os.urandom(3000)
    d1 = store.put_files([SourceFile.from_bytes("one.bin", one)]).digest
    d2 = store.put_files([SourceFile.from_bytes("two.bin", two)]).digest
    by_size: dict[int, list[Path]] = defaultdict(list)
    for f in (tmp_path / "cache").rglob("frames/*"):
        by_size[f.stat().st_size].append(f)
    a, b = next(paths for paths in by_size.values() if len(paths) == 2)
    da, db = a.read_bytes(), b.read_bytes()
    assert da != db
    a.write_bytes(db)
    b.write_bytes(da)
    for _ in range(2):  # twice: the second time, the repaired cache answers
        again, blobs = open_remote(tmp_path)
        assert again.read_file(d1, "one.bin") == one
        assert again.read_file(d2, "two.bin") == two
    assert blobs.pack_reads == 0


def test_a_store_recreated_under_the_same_url_gets_its_config(tmp_path: Path) -> None:
    """The store is deleted and created again at the same URL: the next push writes its config
    (the cached one belongs to the first store), and the store verifies clean."""
    url, cache = (tmp_path / "store").as_uri(), tmp_path / "cache"
    with open_store(url, cache_dir=cache) as first:
        first_id = first.config.store_id
        first.set_ref("flows/a", first.put_files([SourceFile.from_bytes("a", b"one\n")]).digest)
    shutil.rmtree(tmp_path / "store")
    with open_store(url, cache_dir=cache) as second:
        d = second.put_files([SourceFile.from_bytes("a", b"two\n")]).digest
        second.set_ref("flows/a", d)
        assert second.read_file(d, "a") == b"two\n"
        cfg = load_config(second.blobs)
        assert cfg is not None and cfg.store_id != first_id
        assert second.config == cfg
        report = verify(second, all_refs=True, read_data=True)
        assert report.ok, report
