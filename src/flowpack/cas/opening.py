"""Opening a store from a URL (``file://``, plain paths, ``memory://``, ``s3://``, ...)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from flowpack.cas.chunker import ChunkerParams
from flowpack.cas.paths import ENV_CACHE, ENV_STORE, default_cache_dir, default_store_url
from flowpack.cas.registry import open_location
from flowpack.cas.store import Store
from flowpack.cas.urls import redact

__all__ = ["ENV_CACHE", "ENV_STORE", "default_cache_dir", "default_store_url", "open_store"]


def open_store(
    url: str | None = None,
    *,
    cache_dir: Path | Literal["default"] | None = "default",
    chunker: ChunkerParams | None = None,
    level: int = 9,
    workers: int | None = None,
    sync_once: bool = False,
    options: Mapping[str, Any] | None = None,
) -> Store:
    """Open the store at ``url`` (else ``$FLOWPACK_STORE``, else the per-user default).

    The store owns the location it opens: closing the store closes it.  ``cache_dir`` is the
    local cache root (the per-user default unless given; None for no cache).  ``options`` go to
    the location's opener (see :func:`~flowpack.cas.registry.open_location`).
    """
    url = url or os.environ.get(ENV_STORE) or default_store_url()
    return Store.from_location(
        open_location(url, **dict(options or {})),
        url=redact(url),
        cache_dir=default_cache_dir() if cache_dir == "default" else cache_dir,
        chunker=chunker,
        level=level,
        workers=workers,
        sync_once=sync_once,
    )
