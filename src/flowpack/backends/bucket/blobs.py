"""Blobs in a cloud bucket through an fsspec filesystem (s3fs, gcsfs, adlfs): one adapter for all.

A blob ``packs/<hex>`` of the store ``s3://bucket/team/store`` is the object
``team/store/packs/<hex>``; ``team/store/refs/`` belongs to the ref store.  Writes go through
the filesystem's ``pipe_file``: create-only writes carry the service's own precondition
(S3 ``If-None-Match: *``, GCS ``ifGenerationMatch=0``, Azure ``If-None-Match: *``), large blobs
are uploaded in parts (S3 multipart, GCS resumable, Azure staged blocks) with the part size and
concurrency given in ``put_options``, and an object becomes visible only when complete.  Reads
are ranged requests (``cat_file(start, end)``).  Listings are one paginated request per
1000 objects through :meth:`BucketOps.list`, which lists by plain prefix (fsspec's ``find``
would add existence checks).  Every vendor exception is translated at this edge.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator, Mapping
from typing import Any

from flowpack.backends.bucket.errors import ErrorTranslator, http_status
from flowpack.backends.bucket.ops import BucketOps
from flowpack.backends.bucket.probe import PreconditionCheck
from flowpack.backends.keys import check_blob_key, check_key_prefix, check_range
from flowpack.cas.errors import AlreadyExists, BackendError, NotFound, UsageError
from flowpack.cas.protocols import BlobInfo, Capabilities

__all__ = ["REFS_DIR", "FsspecBlobStore"]

REFS_DIR = "refs"
_MTIME_FIELDS = ("LastModified", "last_modified", "mtime", "updated")


class FsspecBlobStore:
    """A :class:`~flowpack.cas.protocols.BlobStore` on the objects under ``bucket/prefix``.

    ``fs`` is an fsspec filesystem for the bucket's service, ``ops`` the same service's
    :class:`BucketOps` (for listings), ``check`` the endpoint's precondition check (its
    negative answer withdraws the ``atomic_create`` claim); ``put_options`` and
    ``get_options`` are passed to ``pipe_file`` and ``cat_file``.  Each method makes one
    request (a large ``put``, one per part plus two).  Thread-safe: fsspec runs every
    request on its I/O loop, and nothing here is shared mutable state.
    """

    def __init__(
        self,
        fs: Any,
        bucket: str,
        prefix: str,
        ops: BucketOps,
        *,
        errors: ErrorTranslator,
        capabilities: Capabilities,
        check: PreconditionCheck | None = None,
        put_options: Mapping[str, Any] | None = None,
        get_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.fs = fs
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.ops = ops
        self.errors = errors
        self.check = check
        self.put_options = dict(put_options or {})
        self.get_options = dict(get_options or {})
        self._declared = capabilities
        self._object_prefix = f"{self.prefix}/" if self.prefix else ""

    @property
    def capabilities(self) -> Capabilities:
        """The service's guarantees, without ``atomic_create`` if its preconditions are ignored."""
        if self.check is not None and self.check.known() is False:
            return dataclasses.replace(self._declared, atomic_create=False)
        return self._declared

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        """One upload (in parts when large), visible only when complete.

        Raises :class:`AlreadyExists` if ``create_only`` and the object exists (the original is
        untouched), else the translated error of the service.
        """
        path = self._path(key)
        mode = "create" if create_only else "overwrite"
        try:
            self.fs.pipe_file(path, data, mode=mode, **self.put_options)
        except Exception as exc:
            err = self.errors.translate(exc, f"store blob {key!r}")
            if isinstance(err, AlreadyExists):
                raise AlreadyExists(f"blob {key!r} already exists in {self.errors.where}") from exc
            if isinstance(err, NotFound):  # only the bucket can be missing when writing
                raise BackendError(
                    f"cannot store blob {key!r}: the bucket of {self.errors.where} does not exist"
                ) from exc
            raise err from exc

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """One ranged read; a range past the end gives what there is (maybe nothing)."""
        path = self._path(key)
        check_range(offset, length)
        if length == 0:
            self.stat(key)  # existence, which a zero-length range cannot ask
            return b""
        end = None if length is None else offset + length
        try:
            data: bytes = self.fs.cat_file(path, start=offset or None, end=end, **self.get_options)
        except Exception as exc:
            if http_status(exc) == 416:  # range not satisfiable: the object exists, is shorter
                return b""
            err = self.errors.translate(exc, f"read blob {key!r}")
            if isinstance(err, NotFound):
                raise NotFound(f"no blob {key!r} in {self.errors.where}") from exc
            raise err from exc
        return data if length is None else data[:length]

    def stat(self, key: str) -> BlobInfo:
        """Size and modification time, from one metadata request."""
        path = self._path(key)
        try:
            info = self.fs.info(path)
        except Exception as exc:
            err = self.errors.translate(exc, f"stat blob {key!r}")
            if isinstance(err, NotFound):
                raise NotFound(f"no blob {key!r} in {self.errors.where}") from exc
            raise err from exc
        if info.get("type") != "file":
            raise NotFound(f"no blob {key!r} in {self.errors.where}")
        return BlobInfo(key, int(info.get("size") or 0), _mtime(info))

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        """A snapshot from one listing, sorted by key; refs, probes and foreign objects skipped."""
        check_key_prefix(prefix)
        with self.errors.edge(f"list blobs under {prefix!r}"):
            listed = self.ops.list(self._object_prefix + prefix)
        out = []
        for info in listed:
            key = info.key[len(self._object_prefix) :]
            if key.split("/", 1)[0] == REFS_DIR or not _is_key(key):
                continue
            out.append(BlobInfo(key, info.size, info.mtime))
        return iter(sorted(out, key=lambda i: i.key))

    def delete(self, key: str) -> None:
        """One delete request; deleting an absent blob is not an error."""
        path = self._path(key)
        try:
            self.fs.rm_file(path)
        except Exception as exc:
            err = self.errors.translate(exc, f"delete blob {key!r}")
            if not isinstance(err, NotFound):
                raise err from exc

    def _path(self, key: str) -> str:
        check_blob_key(key)
        if key.split("/", 1)[0] == REFS_DIR:
            raise UsageError(f"blob key {key!r} is reserved: {REFS_DIR}/ holds the refs")
        return f"{self.bucket}/{self._object_prefix}{key}"


def _is_key(key: str) -> bool:
    try:
        check_blob_key(key)
    except UsageError:
        return False
    return True


def _mtime(info: Mapping[str, Any]) -> float | None:
    for name in _MTIME_FIELDS:
        value = info.get(name)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
    return None
