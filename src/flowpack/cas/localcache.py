"""The local cache of immutable things: store configs by URL, and manifests by digest.

Both are safe to cache because neither ever changes: ``config`` is written create-only, and a
manifest is named by its hash.  A store can still be deleted and created again under one URL:
configs are keyed by the location's identity (URL and endpoint), and the store re-reads its
config whenever it finds no index file (see :attr:`flowpack.cas.store.Store.config`).  Every
cached manifest is re-hashed when read, so a damaged cache entry is ignored (and refetched),
never used.  A cache that cannot be written only costs a later
request; it is never an error.
"""

from __future__ import annotations

import os
from pathlib import Path

import blake3

from flowpack.cas.chunker import ChunkerParams
from flowpack.cas.config import StoreConfig
from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError, IncompatibleStore

MAX_CACHED_OBJECT = 8 << 20


def _config_path(root: Path | None, url: str) -> Path | None:
    if root is None or not url:
        return None
    return root / "configs" / blake3.blake3(url.encode()).hexdigest()


def load_cached_config(
    root: Path | None, url: str, chunker: ChunkerParams | None
) -> StoreConfig | None:
    """The config of the store at ``url`` if this machine has seen it, else None."""
    path = _config_path(root, url)
    if path is None:
        return None
    try:
        cfg = StoreConfig.decode(path.read_bytes())
    except (OSError, FlowpackError):
        return None
    if chunker is not None and chunker != cfg.chunker:
        raise IncompatibleStore(
            f"store uses chunker {cfg.chunker.identity}; refusing to write with {chunker.identity}"
        )
    return cfg


def save_cached_config(root: Path | None, url: str, cfg: StoreConfig) -> None:
    path = _config_path(root, url)
    if path is not None:
        _write(path, cfg.encode())


def forget_cached_config(root: Path | None, url: str) -> None:
    """Remove the cached config of ``url`` (it no longer describes the store there)."""
    path = _config_path(root, url)
    if path is not None:
        path.unlink(missing_ok=True)


class ObjectCache:
    """Verified copies of small immutable objects (manifests), one file per digest."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def get(self, digest: Digest) -> bytes | None:
        if self.root is None:
            return None
        try:
            data = (self.root / digest.hex).read_bytes()
        except OSError:
            return None
        return data if digest.matches(data) else None

    def put(self, digest: Digest, data: bytes) -> None:
        if self.root is not None and len(data) <= MAX_CACHED_OBJECT:
            _write(self.root / digest.hex, data)


_SUM = 32


def _frame_sum(pack_hex: str, offset: int, data: bytes) -> bytes:
    """The checksum a frame cache entry starts with: over its key and its bytes."""
    h = blake3.blake3(f"flowpack.frame:{pack_hex}:{offset}:".encode())
    h.update(data)
    return h.digest()


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass


class FrameCache:
    """Raw pack frames of a remote store, one file per frame, bounded in total size.

    Frames are immutable (packs are named by their hash).  Each entry starts with a blake3
    checksum over its key (pack and offset) and its bytes, so a damaged entry, or one swapped
    with another frame (of any length), is dropped and reported as absent: the caller reads the
    store instead.  A cached frame is then used like one read from the store: decoded and
    re-hashed record by record (see :class:`flowpack.cas.reader.ChunkReader`).
    """

    def __init__(self, root: Path, limit: int = 256 << 20) -> None:
        self.root = root
        self.limit = limit
        self._puts = 0

    def _path(self, pack_hex: str, offset: int) -> Path:
        return self.root / f"{pack_hex}-{offset}"

    def get(self, pack_hex: str, offset: int, length: int) -> bytes | None:
        """The frame at ``offset`` in pack ``pack_hex`` if cached and intact, else None (a
        damaged or misplaced entry is removed)."""
        try:
            entry = self._path(pack_hex, offset).read_bytes()
        except OSError:
            return None
        data = entry[_SUM:]
        if len(data) != length or entry[:_SUM] != _frame_sum(pack_hex, offset, data):
            self.drop(pack_hex, offset)
            return None
        return data

    def has(self, pack_hex: str, offset: int) -> bool:
        return self._path(pack_hex, offset).exists()

    def put(self, pack_hex: str, offset: int, data: bytes) -> None:
        _write(self._path(pack_hex, offset), _frame_sum(pack_hex, offset, data) + data)
        self._puts += 1
        if self._puts % 64 == 1:
            self._trim()

    def drop(self, pack_hex: str, offset: int) -> None:
        self._path(pack_hex, offset).unlink(missing_ok=True)

    def _trim(self) -> None:
        """Remove the least recently written frames while the cache is over its limit."""
        try:
            entries = [(e.stat().st_mtime, e.stat().st_size, e) for e in self.root.iterdir()]
        except OSError:
            return
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries, key=lambda t: t[0]):
            if total <= self.limit:
                break
            entry.unlink(missing_ok=True)
            total -= size
