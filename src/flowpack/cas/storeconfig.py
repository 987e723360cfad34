"""Which config a store client believes, and which local caches go with it.

The store's ``config`` is create-only, so this machine caches it (see
:mod:`flowpack.cas.localcache`).  A cache can still outlive the store it describes, so the rule
is: the cached config is keyed by the location's identity (its URL and, for buckets, the
endpoint it resolved to), and believed only while the store shows content.  The first sync
that lists no index file re-reads ``config`` from the store: absent (the store was deleted and
created again), the cached copy is forgotten and the next write creates the store's own; a
different one is adopted and cached.  Local caches of objects and frames are kept under the
believed config's ``store_id``, and every entry is verified when read.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flowpack.cas.chunker import ChunkerParams
from flowpack.cas.config import StoreConfig, ensure_config, load_config
from flowpack.cas.localcache import (
    FrameCache,
    ObjectCache,
    forget_cached_config,
    load_cached_config,
    save_cached_config,
)
from flowpack.cas.protocols import BlobStore
from flowpack.cas.reader import ChunkReader


class BelievedConfig:
    """The config a :class:`~flowpack.cas.store.Store` uses, and the caches keyed by it.

    Thread-safe.  ``root`` is the local cache root (None: no cache); ``key`` names the store
    in the cache (its location's identity).
    """

    def __init__(
        self,
        blobs: BlobStore,
        reader: ChunkReader,
        root: Path | None,
        key: str,
        chunker: ChunkerParams | None,
    ) -> None:
        self.blobs = blobs
        self.reader = reader
        self.root = root
        self.key = key
        self.chunker = chunker
        self.current: StoreConfig | None = None
        self.objects = ObjectCache(None)
        self._from_cache = False
        self._lock = threading.RLock()

    def get(self) -> StoreConfig:
        """The config: the cached one, else the store's (created, create-only, if absent)."""
        with self._lock:
            if self.current is None:
                cfg = load_cached_config(self.root, self.key, self.chunker)
                self._from_cache = cfg is not None
                if cfg is None:
                    cfg = ensure_config(self.blobs, self.chunker)
                    save_cached_config(self.root, self.key, cfg)
                self._adopt(cfg)
            assert self.current is not None
            return self.current

    def saw_store(self, *, empty: bool) -> None:
        """A sync listed the store; ``empty``: no index file.  Re-checks a cached config once."""
        with self._lock:
            if not (self._from_cache and empty):
                return
            self._from_cache = False
            real = load_config(self.blobs)
            if real == self.current:
                return
            forget_cached_config(self.root, self.key)
            if real is None:
                self.current = None
                self.objects = ObjectCache(None)
                self.reader.frame_cache = None
            else:
                save_cached_config(self.root, self.key, real)
                self._adopt(real)

    def _adopt(self, cfg: StoreConfig) -> None:
        root = self.root
        self.current = cfg
        self.objects = ObjectCache(root / cfg.store_id / "objects" if root else None)
        self.reader.frame_cache = None
        if root is not None and self.blobs.capabilities.remote:
            self.reader.frame_cache = FrameCache(root / cfg.store_id / "frames")
