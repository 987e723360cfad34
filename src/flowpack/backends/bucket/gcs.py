"""``gs://bucket/prefix``: a store in a Google Cloud Storage bucket, through gcsfs.

Credentials come from where gcsfs looks (application default credentials, ``gcloud``, the
metadata server), the endpoint from ``STORAGE_EMULATOR_HOST`` (anonymous access is then the
default, as emulators expect); the URL's options override them (``endpoint_url``, ``project``,
``token`` (``anon``, ``google_default``, ``cloud``, or a credentials file), ``requester_pays``),
and ``storage_options`` may give any ``gcsfs.GCSFileSystem`` argument.

Writes are JSON API uploads: create-only ones carry ``ifGenerationMatch=0``; up to 32 MiB they
are one multipart request (whose precondition every server honours), larger ones resumable
uploads in 32 MiB chunks.  Refs are small multipart uploads with ``ifGenerationMatch=0`` (create)
or ``=<generation>`` (update).  Deleting a ref writes an empty *tombstone* with
``ifGenerationMatch=<generation>`` instead of a generation-matched DELETE, which emulators
ignore; a tombstone reads as an absent ref (its generation is never handed out as a token),
and creating the ref again replaces it generation-matched.  gcsfs's own retry loop is removed:
:mod:`flowpack.backends.retrying` is the only one.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
from collections.abc import Mapping
from typing import Any

import fsspec.asyn
from gcsfs.core import GCSFileSystem, quote

from flowpack.backends.bucket.assemble import bucket_pair
from flowpack.backends.bucket.errors import refused
from flowpack.backends.bucket.sessions import SESSIONS, Lease
from flowpack.backends.bucket.url import BucketUrl, parse_bucket_url
from flowpack.cas.location import Location
from flowpack.cas.protocols import BlobInfo, Token

__all__ = ["GcsOps", "gcs_session", "open_gcs"]

SCHEMES = ("gs", "gcs")
OPTIONS = frozenset({"endpoint_url", "project", "token", "requester_pays"})
CHUNK_SIZE = 32 << 20
#: Seconds to wait for a session to close.
_CLOSE_TIMEOUT = 10.0
#: Environment variables the Google clients read when a filesystem is built.
ENV_PREFIXES = ("STORAGE_EMULATOR_HOST", "GOOGLE_", "GCLOUD_", "CLOUDSDK_", "GCE_")
#: A generation no object has (real ones are microsecond timestamps), for the probe.
_NEVER_GENERATION = "1"
_BOUNDARY = "flowpack-f9c1d2a4e8b7"


_request_once = GCSFileSystem._request.__wrapped__


class _GcsFileSystem(GCSFileSystem):  # type: ignore[misc]
    """gcsfs with its retry loop removed (one attempt per request), and HTTP 403 raised as a
    ``PermissionError`` (gcsfs raises a plain ``OSError("Forbidden: ...")``)."""

    async def _request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await _request_once(self, method, path, *args, **kwargs)
        except OSError as exc:
            if type(exc) is OSError and str(exc).startswith("Forbidden"):
                raise PermissionError(errno.EACCES, "Forbidden") from exc
            raise


def gcs_session(url: BucketUrl, storage_options: Mapping[str, Any] | None = None) -> Lease:
    """A lease on a ``GCSFileSystem`` for ``url``, without gcsfs's retries or listings cache
    (shared by the locations opened with the same options and environment)."""
    kwargs: dict[str, Any] = {"use_listings_cache": False}
    for name in ("endpoint_url", "project", "token"):
        if url.text(name):
            kwargs[name] = url.text(name)
    requester_pays = url.flag("requester_pays")
    if requester_pays is not None:
        kwargs["requester_pays"] = requester_pays
    kwargs.update(storage_options or {})
    if "token" not in kwargs and os.environ.get("STORAGE_EMULATOR_HOST"):
        kwargs["token"] = "anon"
    return SESSIONS.acquire(_new_filesystem, kwargs, ENV_PREFIXES, _close_filesystem)


def _new_filesystem(**kwargs: Any) -> Any:
    return _GcsFileSystem(skip_instance_cache=True, **kwargs)


def _close_filesystem(fs: Any) -> None:
    """Close the filesystem's HTTP session and its connections, if one was made."""
    session = getattr(fs, "_session", None)
    if session is None:
        return
    fs._session = None
    fsspec.asyn.sync(fs.loop, session.close, timeout=_CLOSE_TIMEOUT)


class GcsOps:
    """:class:`~flowpack.backends.bucket.ops.BucketOps` over the JSON API, via gcsfs's session."""

    def __init__(self, fs: Any, bucket: str) -> None:
        self.fs = fs
        self.bucket = bucket

    def _call(self, method: str, path: str, *args: str, **kwargs: Any) -> Any:
        return fsspec.asyn.sync(self.fs.loop, self.fs._call, method, path, *args, **kwargs)

    def list(self, prefix: str) -> list[BlobInfo]:
        """``objects.list`` pages under ``prefix``."""
        out: list[BlobInfo] = []
        token: str | None = None
        while True:
            page = self._call(
                "GET", "b/{}/o", self.bucket, json_out=True, prefix=prefix, pageToken=token
            )
            for item in page.get("items", []):
                out.append(BlobInfo(item["name"], int(item["size"]), _time(item.get("updated"))))
            token = page.get("nextPageToken")
            if not token:
                return out

    def _read_raw(self, key: str) -> tuple[bytes, str] | None:
        try:
            headers, data = self._call("GET", "b/{}/o/{}", self.bucket, key, alt="media")
        except Exception as exc:
            if refused(exc, 404):
                return None
            raise
        return bytes(data), str(headers["X-Goog-Generation"])

    def read(self, key: str) -> tuple[bytes, Token] | None:
        """A media download; the ``x-goog-generation`` header is the token.  Tombstones: None."""
        found = self._read_raw(key)
        return None if found is None or not found[0] else found

    def _upload(self, key: str, data: bytes, generation: str | None) -> bool:
        meta = json.dumps({"name": key}).encode()
        body = (
            f"--{_BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode()
            + meta
            + f"\r\n--{_BOUNDARY}\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + f"\r\n--{_BOUNDARY}--".encode()
        )
        condition = {} if generation is None else {"ifGenerationMatch": generation}
        try:
            self._call(
                "POST",
                f"{self.fs._location}/upload/storage/v1/b/{quote(self.bucket)}/o",
                uploadType="multipart",
                headers={"Content-Type": f'multipart/related; boundary="{_BOUNDARY}"'},
                data=body,
                json_out=True,
                **condition,
            )
        except Exception as exc:
            if generation is not None and refused(exc, 404, 412):
                return False
            raise
        return True

    def create(self, key: str, data: bytes) -> bool:
        """Upload with ``ifGenerationMatch=0``; over a tombstone, matched to its generation."""
        if self._upload(key, data, "0"):
            return True
        found = self._read_raw(key)
        if found is not None and not found[0]:
            return self._upload(key, data, found[1])
        return False

    def replace(self, key: str, data: bytes, token: Token) -> bool:
        """Upload with ``ifGenerationMatch=<token>``."""
        return self._upload(key, data, token)

    def delete(self, key: str, token: Token) -> bool:
        """Write a tombstone with ``ifGenerationMatch=<token>``."""
        return self._upload(key, b"", token)

    def write(self, key: str, data: bytes) -> None:
        """Upload without a precondition."""
        self._upload(key, data, None)

    def remove(self, key: str) -> None:
        """``objects.delete``; absent is fine."""
        try:
            self._call("DELETE", "b/{}/o/{}", self.bucket, key)
        except Exception as exc:
            if not refused(exc, 404):
                raise

    def probe(self, key: str) -> bool:
        """Upload with an ``ifGenerationMatch`` no object satisfies."""
        if self._upload(key, b"", _NEVER_GENERATION):
            self.remove(key)
            return False
        return True


def _time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def open_gcs(url: str, *, storage_options: Mapping[str, Any] | None = None) -> Location:
    """Open the store at ``gs://bucket/prefix``; see the module docstring for the options.

    Nothing is requested until first use; the location owns its session (shared with the
    locations opened with the same arguments) and its ``close()`` releases it.  Raises
    :class:`UsageError` for a malformed URL.
    """
    parsed = parse_bucket_url(url, SCHEMES, OPTIONS)
    lease = gcs_session(parsed, storage_options)
    try:
        return bucket_pair(
            parsed,
            lease,
            GcsOps(lease.fs, parsed.bucket),
            endpoint=str(lease.fs._location),
            put_options={"chunksize": CHUNK_SIZE},
        )
    except BaseException:
        lease.release()
        raise
