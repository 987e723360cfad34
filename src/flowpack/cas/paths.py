"""Where flowpack keeps its per-user files: the default store and the cache directory.

A leaf module (standard library only), so any layer may ask for a path without importing the
store: :mod:`flowpack.cas.opening` uses it to open stores, the bucket adapters to keep their
precondition-probe memo.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_CACHE", "ENV_STORE", "default_cache_dir", "default_store_url"]

ENV_STORE = "FLOWPACK_STORE"
ENV_CACHE = "FLOWPACK_CACHE"


def default_store_url() -> str:
    """The embedded default: a directory in the user's data folder, no server."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "flowpack" / "store")


def default_cache_dir() -> Path:
    """``$FLOWPACK_CACHE/flowpack``, else ``$XDG_CACHE_HOME/flowpack``, else
    ``~/.cache/flowpack``; read from the environment at each call, created by nobody here."""
    base = os.environ.get(ENV_CACHE) or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "flowpack" if base else Path.home() / ".cache" / "flowpack"
