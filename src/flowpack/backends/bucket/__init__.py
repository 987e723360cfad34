"""The bucket family: ``s3://``, ``gs://`` (``gcs://``) and ``az://`` (``abfs://``) stores in an
object-storage bucket, through the service's fsspec filesystem.

Nouns:

- **bucket URL** (:mod:`~flowpack.backends.bucket.url`): ``SCHEME://BUCKET/PREFIX?options``,
  parsed once into bucket, prefix, options (secrets redacted wherever shown) and retry policy.
- **filesystem**: the service's fsspec filesystem, holding the SDK session and its connection
  pool.  A location owns it: locations opened with the same arguments share one, counted, and
  the last one's ``close()`` closes it (:mod:`~flowpack.backends.bucket.sessions`).
- **ops** (:class:`~flowpack.backends.bucket.ops.BucketOps`): the few single-object requests
  (conditional create, replace and delete, read with a version token, listing) each service
  implements with its filesystem's client, in :mod:`~flowpack.backends.bucket.s3`,
  :mod:`~flowpack.backends.bucket.gcs` and :mod:`~flowpack.backends.bucket.azure`.
- **probe** (:mod:`~flowpack.backends.bucket.probe`): the one-time check that an endpoint
  honours conditional writes, and the memo of its answer.
- **blob store** (:mod:`~flowpack.backends.bucket.blobs`) and **ref store**
  (:mod:`~flowpack.backends.bucket.refs`): the adapter over the filesystem and the ops.
- **translator** (:mod:`~flowpack.backends.bucket.errors`): vendor exceptions to
  :mod:`flowpack.cas.errors`, once, at the edge; **retrying**
  (:mod:`~flowpack.backends.retrying`): the only retry loop.
- **assembling** (:func:`~flowpack.backends.bucket.assemble.bucket_pair`): the location made
  of all of these.

The openers are :func:`open_s3` (entry point ``s3``), :func:`open_gcs` (``gs``, ``gcs``) and
:func:`open_azure` (``az``, ``abfs``).  They are exported lazily: opening one service imports
only that service's SDK, and a missing SDK surfaces as ``ImportError`` when its opener is first
looked up (which :func:`flowpack.cas.registry.open_location` turns into the
``pip install 'flowpack[EXTRA]'`` line).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowpack.backends.bucket.azure import open_azure
    from flowpack.backends.bucket.gcs import open_gcs
    from flowpack.backends.bucket.s3 import open_s3

__all__ = ["open_azure", "open_gcs", "open_s3"]

_OPENERS = {
    "open_s3": "flowpack.backends.bucket.s3",
    "open_gcs": "flowpack.backends.bucket.gcs",
    "open_azure": "flowpack.backends.bucket.azure",
}


def __getattr__(name: str) -> Any:
    module = _OPENERS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
