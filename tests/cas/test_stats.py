"""stats: figures that match what is on disk and what the refs reach."""

from __future__ import annotations

from pathlib import Path

from wholestore import file_store, push, random_bytes, text_bytes

from flowpack.cas.opening import open_store
from flowpack.cas.stats import store_stats

SHARED = random_bytes(100_000, 1)


def disk_bytes(root: Path, sub: str) -> int:
    return sum(p.stat().st_size for p in (root / sub).iterdir() if not p.name.startswith("."))


def test_empty_store() -> None:
    stats = store_stats(open_store("memory://", cache_dir=None))
    assert stats.objects == stats.packs == stats.stored_bytes == 0
    assert stats.logical_bytes == stats.refs == 0
    assert stats.dedup_ratio == 0.0


def test_figures_match_the_disk_and_the_refs(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = file_store(root)
    one = push(store, {"shared.bin": SHARED, "one.py": text_bytes(3000, 2)})
    two = push(store, {"shared.bin": SHARED, "two.py": text_bytes(2000, 3)})
    push(store, {"unreferenced.bin": random_bytes(50_000, 4)})
    store.set_ref("flows/p/one", one.digest)
    store.set_ref("tags/one", one.digest)  # the same bundle twice counts once
    store.set_ref("flows/p/two", two.digest)

    stats = store_stats(file_store(root))
    assert stats.refs == 3
    assert stats.packs == 3
    assert stats.stored_bytes == disk_bytes(root, "packs") + disk_bytes(root, "index")
    assert stats.logical_bytes == 2 * len(SHARED) + 3000 + 2000
    fresh = file_store(root)
    fresh.sync()
    assert stats.objects == len(fresh.index)
    assert stats.unique_bytes == sum(d.size for d, _ in fresh.index.items())
    assert stats.unique_bytes < stats.logical_bytes + 50_000  # shared.bin stored once
    assert stats.dedup_ratio == round(stats.logical_bytes / stats.stored_bytes, 2)
    assert stats.bundles == 2 and stats.condemned_packs == 0


def test_dedup_ratio_grows_with_repeated_content() -> None:
    store = open_store("memory://", cache_dir=None)
    for i in range(5):
        d = push(store, {"data.bin": SHARED, "n.txt": str(i).encode()}).digest
        store.set_ref(f"flows/p/v{i}", d)
    stats = store_stats(store)
    assert stats.logical_bytes == 5 * (len(SHARED) + 1)
    assert stats.dedup_ratio > 4.0
