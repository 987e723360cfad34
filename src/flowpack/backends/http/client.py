"""``HttpBlobStore``: the blob half of an ``http(s)://`` location (a ``flowpack serve``).

Keys are checked here before any request (the same grammar as every adapter), so a bad key
never leaves the process.  Uploads carry the blake3 of their body, which the server verifies
before keeping anything; ``create_only`` puts send ``If-None-Match: *`` and a 412 becomes
:class:`AlreadyExists`.  Reads are ranged (``Range: bytes=A-B``), listings stream NDJSON and
must end with the server's end line, so a cut listing raises instead of looking complete.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import blake3

from flowpack.backends.http.transport import Transport
from flowpack.backends.http.wire import BLAKE3_HEADER, MAX_MISSING_KEYS
from flowpack.backends.keys import check_blob_key, check_key_prefix, check_range
from flowpack.cas.errors import AlreadyExists, MalformedData, TransientBackendError
from flowpack.cas.protocols import BlobInfo, Capabilities

__all__ = ["HttpBlobStore", "read_ndjson"]


def blob_path(key: str) -> str:
    """The URL path of blob ``key`` (already checked: only safe characters)."""
    return "/blobs/" + quote(key, safe="/")


class HttpBlobStore:
    """Blobs of a remote ``flowpack serve``.  Thread-safe; every method is one request
    (listings one streamed request), translated by :class:`Transport`."""

    def __init__(self, transport: Transport, capabilities: Capabilities) -> None:
        self.transport = transport
        self._capabilities = capabilities

    @property
    def capabilities(self) -> Capabilities:
        """The served store's guarantees (``read_only`` when the token may only read)."""
        return self._capabilities

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        """Upload ``data``; the server verifies its digest and stores it all or nothing.

        Raises :class:`AlreadyExists` if ``create_only`` and the key exists,
        :class:`PermissionDenied` without the scope (write; admin to replace),
        :class:`CapabilityError` when larger than the server accepts.  Not retried (only a
        failed connect is): a retry of a lost response could not tell "mine" from "theirs".
        """
        check_blob_key(key)
        headers = {
            BLAKE3_HEADER: blake3.blake3(data).hexdigest(),
            "content-type": "application/octet-stream",
        }
        if create_only:
            headers["if-none-match"] = "*"
        response = self.transport.request(
            "PUT", blob_path(key), ok=(201, 204, 412), content=bytes(data), headers=headers
        )
        if response.status_code == 412:
            raise AlreadyExists(f"blob {key!r} already exists at {self.transport.shown}")

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """``length`` bytes of ``key`` from ``offset`` (ranged GET); :class:`NotFound` if absent."""
        check_blob_key(key)
        check_range(offset, length)
        if length == 0:
            self.stat(key)
            return b""
        headers = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["range"] = f"bytes={offset}-{end}"
        response = self.transport.request(
            "GET", blob_path(key), ok=(200, 206, 416), headers=headers
        )
        if response.status_code == 416:
            return b""
        data = response.content
        if length is not None and len(data) > length:
            raise TransientBackendError(f"server sent {len(data)} bytes for a {length}-byte range")
        return data

    def stat(self, key: str) -> BlobInfo:
        """Size and modification time of ``key`` (a HEAD); :class:`NotFound` if absent."""
        check_blob_key(key)
        response = self.transport.request("HEAD", blob_path(key))
        try:
            size = int(response.headers["content-length"])
            mtime_text = response.headers.get("x-flowpack-mtime")
            mtime = float(mtime_text) if mtime_text else None
        except (KeyError, ValueError) as exc:
            raise MalformedData(f"HEAD {key!r}: no usable Content-Length") from exc
        return BlobInfo(key, size, mtime)

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every blob under ``prefix``, streamed from one listing request."""
        check_key_prefix(prefix)
        return self._listing(prefix)

    def _listing(self, prefix: str) -> Iterator[BlobInfo]:
        with self.transport.stream("GET", "/blobs", params={"prefix": prefix}) as response:
            for doc in read_ndjson(response.iter_lines(), "blob listing"):
                try:
                    yield BlobInfo(str(doc["key"]), int(doc["size"]), doc.get("mtime"))
                except (KeyError, TypeError, ValueError) as exc:
                    raise MalformedData("blob listing: a line is not {key, size}") from exc

    def delete(self, key: str) -> None:
        """Remove ``key`` (admin scope); idempotent."""
        check_blob_key(key)
        self.transport.request("DELETE", blob_path(key), ok=(204,))

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys among ``keys`` the server lacks, in batches of one request each."""
        wanted = [check_blob_key(k) for k in keys]
        lacking: list[str] = []
        for start in range(0, len(wanted), MAX_MISSING_KEYS):
            batch = wanted[start : start + MAX_MISSING_KEYS]
            response = self.transport.request(
                "POST", "/blobs:missing", retry=True, json={"keys": batch}
            )
            lacking.extend(str(k) for k in response.json()["missing"])
        return lacking


def read_ndjson(lines: Iterable[str], what: str) -> Iterator[dict[str, Any]]:
    """The documents of an NDJSON listing; raises unless it ends with the server's end line.

    An error line (the listing failed part-way) raises the error it names.
    """
    from flowpack.backends.http.transport import _TYPES  # the same type table

    for line in lines:
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise MalformedData(f"{what}: a line is not JSON") from exc
        if not isinstance(doc, dict):
            raise MalformedData(f"{what}: a line is not a JSON object")
        if "end" in doc:
            return
        if "error" in doc:
            kind = _TYPES.get(str(doc.get("type")), TransientBackendError)
            raise kind(f"{what} failed on the server: {doc['error']}")
        yield doc
    raise TransientBackendError(f"{what} ended early (connection cut)")
