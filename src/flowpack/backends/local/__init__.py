"""The local family: ``file://`` URLs and plain paths, a store in a directory.

Nouns:

- **root**: the directory a ``file://`` URL or plain path names (:func:`path_from_url`); blobs
  are files under it, one per key, and refs are files under ``root/refs``.
- **blob store** (:class:`LocalBlobStore`) and **ref store** (:class:`LocalRefStore`): the
  adapter, in :mod:`flowpack.backends.local.adapter`.
- **lock file**: the mutual exclusion for one ref's update, an ``O_EXCL`` file with an owner
  record, broken when stale (:mod:`flowpack.backends.local.lockfile`).

The opener is :func:`open_local` (entry point ``file``).
"""

from flowpack.backends.local.adapter import LocalBlobStore, LocalRefStore
from flowpack.backends.local.opener import open_local, path_from_url

__all__ = ["LocalBlobStore", "LocalRefStore", "open_local", "path_from_url"]
