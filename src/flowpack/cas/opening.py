"""Opening a store from a URL (``file://``, plain paths, ``memory://``, ``s3://``, ...)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flowpack.cas.registry import open_location
from flowpack.cas.store import Store
from flowpack.cas.urls import redact

ENV_STORE = "FLOWPACK_STORE"
ENV_CACHE = "FLOWPACK_CACHE"


def default_store_url() -> str:
    """The embedded default: a directory in the user's data folder, no server."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "flowpack" / "store")


def default_cache_dir() -> Path:
    base = os.environ.get(ENV_CACHE) or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "flowpack" if base else Path.home() / ".cache" / "flowpack"


def open_store(url: str | None = None, **kwargs: Any) -> Store:
    """Open the store at ``url`` (else ``$FLOWPACK_STORE``, else the per-user default)."""
    url = url or os.environ.get(ENV_STORE) or default_store_url()
    location = open_location(url)
    kwargs.setdefault("cache_dir", default_cache_dir())
    return Store(location.blobs, location.refs, url=redact(url), **kwargs)
