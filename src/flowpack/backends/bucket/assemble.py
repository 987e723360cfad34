"""Assembling a bucket store: the blob and ref adapters over one filesystem, with retries.

Every bucket scheme opens the same way: parse the URL, lease the service's fsspec filesystem
(:mod:`flowpack.backends.bucket.sessions`), build its
:class:`~flowpack.backends.bucket.ops.BucketOps`, then call :func:`bucket_pair`, which shares
one error translator and one precondition check between the two adapters, wraps both in the
URL's retry policy, and hands the lease to the location, whose ``close()`` releases it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from flowpack.backends.bucket.blobs import REFS_DIR, FsspecBlobStore
from flowpack.backends.bucket.errors import ErrorTranslator
from flowpack.backends.bucket.ops import PROBE_PREFIX, BucketOps
from flowpack.backends.bucket.probe import PreconditionCheck
from flowpack.backends.bucket.refs import BucketRefStore
from flowpack.backends.bucket.sessions import Lease
from flowpack.backends.bucket.url import BucketUrl
from flowpack.backends.retrying import RetryingBlobStore, RetryingRefStore
from flowpack.cas.location import Location
from flowpack.cas.protocols import Capabilities
from flowpack.cas.urls import redact

__all__ = ["BUCKET_CAPABILITIES", "bucket_pair"]

#: What S3, GCS and Azure Blob guarantee: atomic conditional writes, ranged reads, durability.
BUCKET_CAPABILITIES = Capabilities(
    atomic_create=True, atomic_cas=True, range_reads=True, max_connections=8, durable=True
)


def bucket_pair(
    url: BucketUrl,
    lease: Lease,
    ops: BucketOps,
    *,
    endpoint: str,
    put_options: Mapping[str, Any] | None = None,
    get_options: Mapping[str, Any] | None = None,
) -> Location:
    """The location ``url`` names, owning ``lease`` (released by its ``close()``);
    ``endpoint`` names the service for the probe's memo."""
    fs = lease.fs
    errors = ErrorTranslator(url.redacted)
    probe_key = f"{url.object_prefix}{PROBE_PREFIX}{os.urandom(8).hex()}"
    check = PreconditionCheck(
        (url.scheme, endpoint, url.bucket), url.redacted, lambda: ops.probe(probe_key), lease.memo
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
        ops,
        f"{url.object_prefix}{REFS_DIR}/",
        errors=errors,
        check=check,
        capabilities=caps,
        unsafe_refs=bool(url.flag("unsafe_refs")),
    )
    policy = url.retry_policy()
    return Location(
        url.redacted,
        RetryingBlobStore(blobs, policy),
        RetryingRefStore(refs, policy),
        closers=[lease.release],
        identity=f"{url.redacted} at {redact(endpoint)}",
    )
