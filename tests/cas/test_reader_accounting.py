"""A decoded frame counts against the memory budget with what its records cost in memory, not
their bytes alone: a frame of thousands of tiny files' records holds several times its data."""

from __future__ import annotations

from pathlib import Path

from flowpack.backends.local import LocalBlobStore, LocalRefStore
from flowpack.cas.memory import MemoryBudget
from flowpack.cas.reader import RECORD_OVERHEAD, ChunkReader
from flowpack.cas.store import Store
from flowpack.cas.tree import SourceFile


def test_a_frame_of_tiny_records_counts_their_overhead(tmp_path: Path) -> None:
    store = Store(LocalBlobStore(tmp_path / "s"), LocalRefStore(tmp_path / "s"), url="t")
    files = [
        SourceFile.from_bytes(f"f{i:04}.txt", f"tiny file {i}\n".encode()) for i in range(3000)
    ]
    manifest = store.get_manifest(store.put_files(files).digest)
    budget = MemoryBudget(8 << 20)
    reader = ChunkReader(store.blobs, store.index, budget)
    data = sum(len(f.read()) for f in files)
    reader.get(manifest.files[0].chunks[0])  # decodes the frame holding it, and its neighbours
    assert budget.cached >= data // 2 + 1000 * RECORD_OVERHEAD, budget.cached
    reader.clear()
    assert budget.cached == 0
