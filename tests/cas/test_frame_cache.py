"""The local frame cache of remote stores: pushes compress against cached frames, and a
damaged cache entry is dropped and read again from the store, never returned."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from flowpack.backends.local import LocalBlobStore, LocalRefStore
from flowpack.cas.protocols import BlobInfo, Capabilities
from flowpack.cas.store import Store
from flowpack.cas.tree import SourceFile


class RemoteLike:
    """A local blob store that declares itself remote and counts pack reads."""

    def __init__(self, root: Path) -> None:
        self.inner = LocalBlobStore(root)
        self.pack_reads = 0

    @property
    def capabilities(self) -> Capabilities:
        return dataclasses.replace(self.inner.capabilities, remote=True)

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        self.inner.put(key, data, create_only=create_only)

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        if key.startswith("packs/"):
            self.pack_reads += 1
        return self.inner.get(key, offset, length)

    def stat(self, key: str) -> BlobInfo:
        return self.inner.stat(key)

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self.inner.iter_keys(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)


def version(n: int) -> list[SourceFile]:
    lines = "".join(f"def f{i}(x):\n    return x * {i}\n" for i in range(3000))
    return [SourceFile.from_bytes("flow.py", (lines + f"VERSION = {n}\n").encode())]


def open_remote(tmp_path: Path) -> tuple[Store, RemoteLike]:
    blobs = RemoteLike(tmp_path / "store")
    store = Store(
        blobs,
        LocalRefStore(tmp_path / "store"),
        url="remote-like://x",
        cache_dir=tmp_path / "cache",
    )
    return store, blobs


def test_pushes_compress_against_cached_frames_without_reading_the_store(tmp_path: Path) -> None:
    store, _ = open_remote(tmp_path)
    prev = None
    for n in range(4):
        prev = store.put_files(version(n), parent=prev.digest if prev else None)
    store2, blobs2 = open_remote(tmp_path)  # a new process on the same machine
    assert prev is not None
    result = store2.put_files(version(9), parent=prev.digest)
    assert result.new_chunks >= 1 and result.bytes_uploaded < 2000  # a delta, not the file
    assert blobs2.pack_reads == 0
    assert store2.read_file(result.digest, "flow.py").endswith(b"VERSION = 9\n")


def test_a_damaged_cache_entry_is_dropped_and_read_from_the_store(tmp_path: Path) -> None:
    store, _ = open_remote(tmp_path)
    digest = store.put_files(version(1)).digest
    frames = list((tmp_path / "cache").rglob("frames/*"))
    assert frames
    for f in frames:
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0xFF
        f.write_bytes(bytes(data))
    store2, blobs2 = open_remote(tmp_path)
    assert store2.read_file(digest, "flow.py") == version(1)[0].read()
    assert blobs2.pack_reads >= 1
