"""``s3://bucket/prefix``: a store in an S3 (or S3-compatible) bucket, through s3fs.

Credentials and endpoint come from where boto does: the environment (``AWS_ACCESS_KEY_ID``,
``AWS_PROFILE``, ``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``, ``AWS_DEFAULT_REGION``...), shared
config and credentials files, instance roles; then from the URL's options (``endpoint_url``,
``region``, ``profile``, ``anon``, ``requester_pays``, and ``key``/``secret``/``token``, which are
redacted wherever the URL is shown) and last from ``storage_options`` (any
``s3fs.S3FileSystem`` argument).

Packs are written with ``If-None-Match: *`` (create-only), in 8 MiB parts with up to 4 parts
in flight from 16 MiB (multipart upload, whose completion carries the precondition).  Refs use
``If-None-Match: *`` to create and ``If-Match: <etag>`` to update or delete.  botocore's and
s3fs's own retries are switched off: :mod:`flowpack.backends.retrying` is the only retry
loop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import fsspec.asyn
from s3fs import S3FileSystem

from flowpack.backends.bucket.assemble import bucket_pair
from flowpack.backends.bucket.errors import refused
from flowpack.backends.bucket.sessions import SESSIONS, Lease
from flowpack.backends.bucket.url import BucketUrl, parse_bucket_url
from flowpack.cas.location import Location
from flowpack.cas.protocols import BlobInfo, Token

__all__ = ["S3Ops", "open_s3", "s3_session"]

SCHEMES = ("s3",)
OPTIONS = frozenset(
    {"endpoint_url", "region", "profile", "anon", "requester_pays", "key", "secret", "token"}
)
PART_SIZE = 8 << 20
#: Seconds to wait for a client to close.
_CLOSE_TIMEOUT = 10.0
#: An ETag no object ever has (ETags are hex digests), for the precondition probe.
_NEVER_ETAG = '"flowpack-probe-never-matches"'


def s3_session(url: BucketUrl, storage_options: Mapping[str, Any] | None = None) -> Lease:
    """A lease on an ``S3FileSystem`` for ``url``, with retries off and a connection pool to
    match (shared by the locations opened with the same options and ``AWS_*`` environment)."""
    client_kwargs: dict[str, Any] = {}
    config_kwargs: dict[str, Any] = {
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "max_pool_connections": 2 * url.connections(),
        "connect_timeout": 10,
        "read_timeout": 60,
    }
    kwargs: dict[str, Any] = {
        "use_listings_cache": False,
        "max_concurrency": 4,
    }
    if url.text("endpoint_url"):
        kwargs["endpoint_url"] = url.text("endpoint_url")
    if url.text("region"):
        client_kwargs["region_name"] = url.text("region")
    if url.text("profile"):
        kwargs["profile"] = url.text("profile")
    for name in ("key", "secret", "token"):
        if url.text(name):
            kwargs[name] = url.text(name)
    for name in ("anon", "requester_pays"):
        value = url.flag(name)
        if value is not None:
            kwargs[name] = value
    extra = dict(storage_options or {})
    client_kwargs.update(extra.pop("client_kwargs", None) or {})
    config_kwargs.update(extra.pop("config_kwargs", None) or {})
    kwargs.update(extra)
    kwargs.update(client_kwargs=client_kwargs, config_kwargs=config_kwargs)
    return SESSIONS.acquire(_new_filesystem, kwargs, ("AWS_",), _close_filesystem)


def _new_filesystem(**kwargs: Any) -> Any:
    fs = S3FileSystem(skip_instance_cache=True, **kwargs)
    fs.retries = 1  # one attempt per call: flowpack's RetryPolicy retries
    return fs


def _close_filesystem(fs: Any) -> None:
    """Close the filesystem's S3 client and its connection pool, if one was made."""
    creator = getattr(fs, "_s3creator", None)
    if creator is None:
        return
    fs._s3 = fs._s3creator = None
    fsspec.asyn.sync(fs.loop, creator.__aexit__, None, None, None, timeout=_CLOSE_TIMEOUT)


class S3Ops:
    """:class:`~flowpack.backends.bucket.ops.BucketOps` over the s3fs client of one bucket."""

    def __init__(self, fs: Any, bucket: str) -> None:
        self.fs = fs
        self.bucket = bucket

    def _run(self, method: str, **kwargs: Any) -> Any:
        return fsspec.asyn.sync(
            self.fs.loop, self.fs._call_s3, method, Bucket=self.bucket, **kwargs
        )

    def list(self, prefix: str) -> list[BlobInfo]:
        """``ListObjectsV2`` pages under ``prefix``."""
        out: list[BlobInfo] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self._run("list_objects_v2", Prefix=prefix, **extra)
            for obj in page.get("Contents", []):
                out.append(BlobInfo(obj["Key"], int(obj["Size"]), obj["LastModified"].timestamp()))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return out

    def read(self, key: str) -> tuple[bytes, Token] | None:
        """``GetObject``; its ETag is the token."""
        return fsspec.asyn.sync(self.fs.loop, self._read, key)  # type: ignore[no-any-return]

    async def _read(self, key: str) -> tuple[bytes, Token] | None:
        try:
            resp = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=key)
        except Exception as exc:
            if refused(exc, 404):
                return None
            raise
        async with resp["Body"] as body:
            data = await body.read()
        return bytes(data), str(resp["ETag"])

    def create(self, key: str, data: bytes) -> bool:
        """``PutObject`` with ``If-None-Match: *``."""
        return self._conditional_put(key, data, IfNoneMatch="*")

    def replace(self, key: str, data: bytes, token: Token) -> bool:
        """``PutObject`` with ``If-Match: <etag>``."""
        return self._conditional_put(key, data, IfMatch=token)

    def _conditional_put(self, key: str, data: bytes, **condition: str) -> bool:
        try:
            self._run("put_object", Key=key, Body=data, **condition)
        except Exception as exc:
            if refused(exc, 404, 412):
                return False
            raise
        return True

    def delete(self, key: str, token: Token) -> bool:
        """``DeleteObject`` with ``If-Match: <etag>``."""
        try:
            self._run("delete_object", Key=key, IfMatch=token)
        except Exception as exc:
            if refused(exc, 404, 412):
                return False
            raise
        return True

    def write(self, key: str, data: bytes) -> None:
        """``PutObject``."""
        self._run("put_object", Key=key, Body=data)

    def remove(self, key: str) -> None:
        """``DeleteObject`` (idempotent in S3)."""
        self._run("delete_object", Key=key)

    def probe(self, key: str) -> bool:
        """``PutObject`` with an ``If-Match`` no object satisfies."""
        if self.replace(key, b"", _NEVER_ETAG):
            self.remove(key)
            return False
        return True


def open_s3(url: str, *, storage_options: Mapping[str, Any] | None = None) -> Location:
    """Open the store at ``s3://bucket/prefix``; see the module docstring for the options.

    Nothing is requested until first use; the location owns its session (shared with the
    locations opened with the same arguments) and its ``close()`` releases it.  Raises
    :class:`UsageError` for a malformed URL.
    """
    parsed = parse_bucket_url(url, SCHEMES, OPTIONS)
    lease = s3_session(parsed, storage_options)
    try:
        endpoint = (
            parsed.text("endpoint_url")
            or (storage_options or {}).get("endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or "aws"
        )
        return bucket_pair(
            parsed,
            lease,
            S3Ops(lease.fs, parsed.bucket),
            endpoint=str(endpoint),
            put_options={"chunksize": PART_SIZE, "max_concurrency": 4},
            get_options={"max_concurrency": 1},  # else s3fs asks for the size first
        )
    except BaseException:
        lease.release()
        raise
