"""Keeping the local copy of a store's index files in step with the store.

One listing of ``index/`` per sync; only index files not seen before are fetched, and each is
checked against its content-addressed name before use (from the store or from the cache).
"""

from __future__ import annotations

import os
from pathlib import Path

from flowpack.cas.digest import Digest
from flowpack.cas.errors import CorruptObject, NotFound
from flowpack.cas.index import IndexFile
from flowpack.cas.protocols import BlobStore

PREFIX = "index/"


def sync_index_files(
    blobs: BlobStore, known: dict[str, IndexFile], cache: Path | None
) -> dict[str, IndexFile]:
    """The index files the store lists now, reusing ``known`` and the on-disk ``cache``."""
    names = {info.key[len(PREFIX) :] for info in blobs.iter_keys(PREFIX)}
    out: dict[str, IndexFile] = {}
    for name in sorted(names):
        if name in known:
            out[name] = known[name]
            continue
        data = _from_cache(cache, name)
        if data is None:
            try:
                data = blobs.get(PREFIX + name)
            except NotFound:
                continue  # removed by a concurrent gc after the listing
            if Digest.of(data).hex != name:
                raise CorruptObject(f"index file blake3:{name} does not match its name", name)
            _to_cache(cache, name, data)
        out[name] = IndexFile.decode(data, f"blake3:{name}")
    if cache is not None and cache.is_dir():
        for stale in cache.iterdir():
            if stale.name not in names and not stale.name.startswith("."):
                stale.unlink(missing_ok=True)
    return out


def remember_index_file(cache: Path | None, written: IndexFile, name: str) -> bool:
    """Put the index file this client just stored as ``index/<name>`` into ``cache``.

    False (nothing cached) if encoding ``written`` does not give that name; a later sync then
    fetches it as usual.
    """
    data = written.encode()
    if Digest.of(data).hex != name:
        return False
    _to_cache(cache, name, data)
    return True


def _from_cache(cache: Path | None, name: str) -> bytes | None:
    if cache is None:
        return None
    try:
        data = (cache / name).read_bytes()
    except OSError:
        return None
    return data if Digest.of(data).hex == name else None


def _to_cache(cache: Path | None, name: str, data: bytes) -> None:
    if cache is None:
        return
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".{name}.{os.getpid()}"
        tmp.write_bytes(data)
        os.replace(tmp, cache / name)
    except OSError:
        pass  # a cache that cannot be written only costs a later re-fetch
