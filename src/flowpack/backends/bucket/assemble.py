"""Assembling a bucket store: the blob and ref adapters over one filesystem, with retries.

Every bucket scheme opens the same way: parse the URL, build the service's fsspec filesystem
and :class:`~flowpack.backends.bucket.ops.BucketOps`, then call :func:`bucket_pair`, which
shares one error translator and one precondition check between the two adapters and wraps both
in the URL's retry policy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

from flowpack.backends.bucket.blobs import REFS_DIR, FsspecBlobStore
from flowpack.backends.bucket.errors import ErrorTranslator
from flowpack.backends.bucket.ops import PROBE_PREFIX, BucketOps, PreconditionCheck
from flowpack.backends.bucket.refs import BucketRefStore
from flowpack.backends.bucket.retrying import RetryingBlobStore, RetryingRefStore
from flowpack.backends.bucket.url import BucketUrl
from flowpack.cas.location import Location
from flowpack.cas.protocols import Capabilities

__all__ = ["BUCKET_CAPABILITIES", "bucket_pair", "shared_filesystem"]

#: What S3, GCS and Azure Blob guarantee: atomic conditional writes, ranged reads, durability.
BUCKET_CAPABILITIES = Capabilities(
    atomic_create=True, atomic_cas=True, range_reads=True, max_connections=8, durable=True
)


_filesystems: dict[str, Any] = {}
_filesystems_lock = threading.Lock()


def shared_filesystem(
    make: Callable[..., Any], kwargs: Mapping[str, Any], env_prefixes: Collection[str]
) -> Any:
    """``make(**kwargs)``, shared by every store of this process opened with the same arguments
    and the same environment variables starting with ``env_prefixes``.

    A filesystem holds the SDK session and its connection pool, which are costly to build, so
    stores of one bucket share one; the environment is part of the key because the SDKs read
    credentials and endpoints from it when the filesystem is built.
    """
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(tuple(env_prefixes)))
    text = repr((getattr(make, "__qualname__", make), os.getpid(), sorted(kwargs.items()), env))
    key = hashlib.sha256(text.encode()).hexdigest()
    with _filesystems_lock:
        fs = _filesystems.get(key)
        if fs is None:
            fs = _filesystems[key] = make(**kwargs)
        return fs


def bucket_pair(
    url: BucketUrl,
    fs: Any,
    ops: BucketOps,
    *,
    endpoint: str,
    put_options: Mapping[str, Any] | None = None,
    get_options: Mapping[str, Any] | None = None,
) -> Location:
    """The location ``url`` names; ``endpoint`` names the service for the probe's memo."""
    errors = ErrorTranslator(url.redacted)
    probe_key = f"{url.object_prefix}{PROBE_PREFIX}{os.urandom(8).hex()}"
    check = PreconditionCheck(
        (url.scheme, endpoint, url.bucket), url.redacted, lambda: ops.probe(probe_key)
    )
    caps = dataclasses.replace(BUCKET_CAPABILITIES, max_connections=url.connections())
    blobs = FsspecBlobStore(
        fs,
        url.bucket,
        url.prefix,
        ops,
        errors=errors,
        capabilities=caps,
        check=check,
        put_options=put_options,
        get_options=get_options,
    )
    refs = BucketRefStore(
        ops, f"{url.object_prefix}{REFS_DIR}/", errors=errors, check=check, capabilities=caps
    )
    policy = url.retry_policy()
    return Location(url.redacted, RetryingBlobStore(blobs, policy), RetryingRefStore(refs, policy))
