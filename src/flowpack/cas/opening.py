"""Opening a store from a URL (``file://``, plain paths, ``memory://``, ``s3://``, ...)."""

from __future__ import annotations

import os
from typing import Any

from flowpack.cas.paths import ENV_CACHE, ENV_STORE, default_cache_dir, default_store_url
from flowpack.cas.registry import open_location
from flowpack.cas.store import Store
from flowpack.cas.urls import redact

__all__ = ["ENV_CACHE", "ENV_STORE", "default_cache_dir", "default_store_url", "open_store"]


def open_store(url: str | None = None, **kwargs: Any) -> Store:
    """Open the store at ``url`` (else ``$FLOWPACK_STORE``, else the per-user default)."""
    url = url or os.environ.get(ENV_STORE) or default_store_url()
    location = open_location(url)
    kwargs.setdefault("cache_dir", default_cache_dir())
    return Store(location.blobs, location.refs, url=redact(url), **kwargs)
