"""Assembling a bucket store: the blob and ref adapters over one filesystem, with retries.

Every bucket scheme opens the same way: parse the URL, build the service's fsspec filesystem
and :class:`~flowpack.backends.bucket_ops.BucketOps`, then call :func:`bucket_pair`, which
shares one error translator and one precondition check between the two adapters and wraps both
in the URL's retry policy.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from flowpack.backends.bucket_errors import ErrorTranslator
from flowpack.backends.bucket_ops import PROBE_PREFIX, BucketOps, PreconditionCheck
from flowpack.backends.bucket_refs import BucketRefStore
from flowpack.backends.bucket_url import BucketUrl
from flowpack.backends.fsspec_blobs import REFS_DIR, FsspecBlobStore
from flowpack.backends.retrying import RetryingBlobStore, RetryingRefStore
from flowpack.cas.protocols import BlobStore, Capabilities, RefStore

__all__ = ["BUCKET_CAPABILITIES", "bucket_pair"]

#: What S3, GCS and Azure Blob guarantee: atomic conditional writes, ranged reads, durability.
BUCKET_CAPABILITIES = Capabilities(
    atomic_create=True, atomic_cas=True, range_reads=True, max_connections=8, durable=True
)


def bucket_pair(
    url: BucketUrl,
    fs: Any,
    ops: BucketOps,
    *,
    endpoint: str,
    put_options: Mapping[str, Any] | None = None,
) -> tuple[BlobStore, RefStore]:
    """The (blob, ref) stores of ``url``; ``endpoint`` names the service for the probe's memo."""
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
    )
    refs = BucketRefStore(
        ops, f"{url.object_prefix}{REFS_DIR}/", errors=errors, check=check, capabilities=caps
    )
    policy = url.retry_policy()
    return RetryingBlobStore(blobs, policy), RetryingRefStore(refs, policy)
