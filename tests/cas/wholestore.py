"""Helpers for the whole-store tests (verify, gc, transfer, stats): real stores, real files."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowpack.cas.opening import open_store
from flowpack.cas.store import PushResult, Store
from flowpack.cas.tree import SourceFile


def file_store(root: Path) -> Store:
    """A fresh Store object on the directory ``root`` (no index cache, so reads see the disk)."""
    return open_store(f"file://{root}", cache_dir=None)


def cached_store(root: Path) -> Store:
    """A Store on ``root/store`` (the local backend) with its local cache in ``root/c``."""
    from flowpack.backends.local import LocalBlobStore, LocalRefStore

    return Store(
        LocalBlobStore(root / "store"),
        LocalRefStore(root / "store"),
        url=f"file://{root / 'store'}",
        cache_dir=root / "c",
    )


def push(store: Store, files: Mapping[str, bytes], **kw: Any) -> PushResult:
    """Store ``files`` (path -> bytes) as one bundle."""
    return store.put_files([SourceFile.from_bytes(p, d) for p, d in files.items()], **kw)


def random_bytes(n: int, seed: int) -> bytes:
    """``n`` incompressible bytes, the same for the same seed."""
    import random

    return random.Random(seed).randbytes(n)


def text_bytes(n: int, seed: int) -> bytes:
    """``n`` bytes of compressible, seed-dependent text."""
    import random

    rng = random.Random(seed)
    words = [f"word{rng.randrange(500)}" for _ in range(n // 4 + 1)]
    return " ".join(words).encode()[:n]


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative POSIX path."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


def blob_keys(store: Store, prefix: str = "") -> set[str]:
    return {info.key for info in store.blobs.iter_keys(prefix)}


def packs_on_disk(root: Path) -> set[str]:
    d = root / "packs"
    return {p.name for p in d.iterdir() if not p.name.startswith(".")} if d.is_dir() else set()


@contextmanager
def flipped(path: Path, pos: int) -> Iterator[None]:
    """Invert every bit of the byte at ``pos`` of ``path``; put it back afterwards."""
    data = bytearray(path.read_bytes())
    original = bytes(data)
    data[pos] ^= 0xFF
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))
    try:
        yield
    finally:
        path.write_bytes(original)
