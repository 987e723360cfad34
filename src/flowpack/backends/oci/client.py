"""`RegistryClient`: the OCI distribution API over one pooled ``httpx.Client``.

Blobs: ``HEAD`` before every upload (a blob the repository has is never sent again);
cross-repository mount when the caller names a source repository; monolithic ``POST`` + ``PUT``
up to :attr:`RegistryClient.monolithic_limit` bytes, chunked ``PATCH`` uploads above it or when
the registry refuses a large ``PUT`` with 413; ``GET`` with ``Range`` for partial reads, never
past the end (distribution 2.8 drops the connection on an unsatisfiable range).  Whole reads are
checked against their sha256, and manifests against the digest the registry names, so a damaged
registry is reported as :class:`CorruptObject` naming the digest.

Manifests are read through a size limit (:data:`MAX_MANIFEST_SIZE` by default): a larger one is
refused with :class:`MalformedData` before it is held in memory.  Every method is thread-safe
and raises only :mod:`flowpack.cas.errors` (translated in :mod:`.errors`).  The client is
closed by :meth:`close` (the Location's closer).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx

from flowpack.backends.oci.auth import RegistryAuth
from flowpack.backends.oci.credentials import Credentials
from flowpack.backends.oci.errors import shown_url, status_error, transport_edge
from flowpack.backends.oci.reference import RegistryRef
from flowpack.cas.errors import (
    BackendError,
    CapabilityError,
    CorruptObject,
    FlowpackError,
    MalformedData,
    NotFound,
)

__all__ = ["MANIFEST_TYPES", "MAX_MANIFEST_SIZE", "Manifest", "RegistryClient", "sha256_digest"]

MAX_MANIFEST_SIZE = 4 << 20
MONOLITHIC_LIMIT = 32 << 20
CHUNK_SIZE = 16 << 20
MAX_TAG_PAGES = 10_000
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES = (
    OCI_MANIFEST,
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_ACCEPT = {"Accept": ", ".join(MANIFEST_TYPES)}


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``, the registry's name for it."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """A manifest as the registry served it: exact bytes, their digest, and media type."""

    raw: bytes
    digest: str
    media_type: str


class RegistryClient:
    """The distribution API of the registry at ``ref.base``.

    ``verify`` is TLS certificate verification (off only with ``insecure=True``).  Thread-safe:
    one connection pool of ``max_connections`` shared by every caller.
    """

    def __init__(
        self,
        ref: RegistryRef,
        *,
        credentials: Credentials | None = None,
        verify: bool = True,
        timeout: float = 60.0,
        max_connections: int = 8,
        monolithic_limit: int = MONOLITHIC_LIMIT,
        chunk_size: int = CHUNK_SIZE,
        max_manifest_size: int = MAX_MANIFEST_SIZE,
    ) -> None:
        self.ref = ref
        self.monolithic_limit = monolithic_limit
        self.chunk_size = chunk_size
        self.max_manifest_size = max_manifest_size
        self._http = httpx.Client(
            base_url=ref.base,
            auth=RegistryAuth(credentials),
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=True,  # blob GETs may redirect to storage; auth stays on origin
            headers={"User-Agent": "flowpack"},
        )

    def close(self) -> None:
        """Close the connection pool; idempotent."""
        self._http.close()

    # -- plumbing -----------------------------------------------------------------------

    def _send(self, what: str, method: str, url: str | httpx.URL, **kw: Any) -> httpx.Response:
        with transport_edge(what, self._http.base_url.join(url)):
            return self._http.request(method, url, **kw)

    def _path(self, repo: str, kind: str, ref: str = "") -> str:
        return f"/v2/{repo}/{kind}/{ref}"

    # -- blobs --------------------------------------------------------------------------

    def blob_size(self, repo: str, digest: str) -> int | None:
        """The size of blob ``digest`` in ``repo``, or None if the repository lacks it."""
        r = self._send(f"check blob {digest}", "HEAD", self._path(repo, "blobs", digest))
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise status_error(f"check blob {digest}", r)
        return int(r.headers.get("content-length", "0"))

    def get_blob(
        self, repo: str, digest: str, size: int, offset: int = 0, length: int | None = None
    ) -> bytes:
        """Bytes ``[offset, offset+length)`` of blob ``digest`` (``size`` bytes long).

        The range is clamped to ``size`` first.  A whole read is checked against ``digest``
        (:class:`CorruptObject` if it differs); a partial read against its expected length.
        """
        end = size if length is None else min(size, offset + length)
        if offset >= end:
            return b""
        whole = offset == 0 and end == size
        headers = {} if whole else {"Range": f"bytes={offset}-{end - 1}"}
        what = f"read blob {digest}"
        r = self._send(what, "GET", self._path(repo, "blobs", digest), headers=headers)
        if r.status_code == 404:
            raise NotFound(f"blob {digest} is missing from the registry ({self.ref.url})")
        if r.status_code == 200 and not whole:
            data = r.content[offset:end]  # the registry ignored Range
        elif r.status_code == 206 and not r.headers.get("content-range", "").startswith(
            f"bytes {offset}-"
        ):
            raise CorruptObject(f"registry blob {digest}: the wrong range came back", digest)
        elif r.status_code in (200, 206):
            data = r.content
        else:
            raise status_error(what, r)
        if whole and sha256_digest(data) != digest:
            raise CorruptObject(f"registry blob {digest} does not match its digest", digest)
        if len(data) != end - offset:
            raise CorruptObject(
                f"registry blob {digest} returned {len(data)} bytes for a {end - offset}-byte"
                " range",
                digest,
            )
        return data

    def upload_blob(self, repo: str, data: bytes, *, mount_from: str | None = None) -> str:
        """Make blob ``data`` exist in ``repo``; return its digest.  Idempotent.

        ``HEAD`` first; then a cross-repository mount from ``mount_from`` if given; then a
        monolithic or chunked upload.  Raises :class:`BackendError` subclasses on failure;
        an upload that fails midway leaves no blob (a chunked session is cancelled).
        """
        digest = sha256_digest(data)
        if self.blob_size(repo, digest) is not None:
            return digest
        uploads = self._path(repo, "blobs", "uploads") + "/"
        params = {"mount": digest, "from": mount_from} if mount_from else None
        r = self._send(f"start upload of {digest}", "POST", uploads, params=params)
        if r.status_code == 201:
            return digest  # mounted
        location = self._location(r, f"start upload of {digest}")
        if len(data) <= self.monolithic_limit:
            url = httpx.URL(location).copy_merge_params({"digest": digest})
            r = self._send(
                f"upload blob {digest}",
                "PUT",
                url,
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            if r.status_code != 413:
                return self._finished(r, digest, repo, len(data))
            r = self._send(f"start upload of {digest}", "POST", uploads)
            location = self._location(r, f"start upload of {digest}")
        try:
            return self._upload_chunked(location, data, digest, repo)
        except FlowpackError:
            self._cancel(location)
            raise

    def _cancel(self, location: str) -> None:
        """Best effort: end an upload session that failed (the registry would purge it later)."""
        try:
            self._send("cancel upload", "DELETE", location)
        except FlowpackError:
            pass

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Mount blob ``digest`` from ``from_repo`` into ``repo``; False if the registry would
        not (the upload session it opened instead is cancelled)."""
        what = f"mount blob {digest}"
        params = {"mount": digest, "from": from_repo}
        r = self._send(what, "POST", self._path(repo, "blobs", "uploads") + "/", params=params)
        if r.status_code == 201:
            return True
        if r.status_code == 202 and "location" in r.headers:
            self._send(what, "DELETE", str(r.request.url.join(r.headers["location"])))
            return False
        raise status_error(what, r)

    def _upload_chunked(self, location: str, data: bytes, digest: str, repo: str) -> str:
        what = f"upload blob {digest} in chunks"
        for start in range(0, len(data), self.chunk_size):
            chunk = data[start : start + self.chunk_size]
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{start}-{start + len(chunk) - 1}",
            }
            r = self._send(what, "PATCH", location, content=chunk, headers=headers)
            location = self._location(r, what)
        url = httpx.URL(location).copy_merge_params({"digest": digest})
        return self._finished(self._send(what, "PUT", url), digest, repo, len(data))

    def _location(self, r: httpx.Response, what: str) -> str:
        if r.status_code != 202 or "location" not in r.headers:
            raise status_error(what, r)
        return str(r.request.url.join(r.headers["location"]))

    def _finished(self, r: httpx.Response, digest: str, repo: str, size: int) -> str:
        if r.status_code != 201:
            # Concurrent uploads of the same bytes: the registry may refuse all but one
            # (distribution answers 400 DIGEST_INVALID); the blob is there all the same.
            if r.status_code in (400, 404) and self.blob_size(repo, digest) == size:
                return digest
            raise status_error(f"upload blob {digest}", r)
        echoed = r.headers.get("docker-content-digest")
        if echoed and echoed != digest:
            raise CorruptObject(f"the registry stored blob {digest} as {echoed[:80]}", digest)
        return digest

    # -- manifests and tags -------------------------------------------------------------

    def manifest_digest(self, repo: str, reference: str) -> str | None:
        """The digest the tag (or digest) ``reference`` names, or None if absent."""
        what = f"check manifest {reference}"
        r = self._send(what, "HEAD", self._path(repo, "manifests", reference), headers=_ACCEPT)
        if r.status_code == 404:
            return None
        if r.status_code != 200 or "docker-content-digest" not in r.headers:
            raise status_error(what, r)
        return r.headers["docker-content-digest"]

    def get_manifest(self, repo: str, reference: str) -> Manifest | None:
        """The manifest at tag or digest ``reference``, or None if absent.

        Raises :class:`MalformedData` for one over the size limit and :class:`CorruptObject`
        when its bytes do not hash to the digest asked for (or the one the registry names).
        """
        what = f"read manifest {reference}"
        url = self._path(repo, "manifests", reference)
        shown = self._http.base_url.join(url)
        with transport_edge(what, shown), self._http.stream("GET", url, headers=_ACCEPT) as r:
            if r.status_code == 404:
                return None
            if r.status_code != 200:
                r.read()
                raise status_error(what, r)
            raw = self._bounded(r, reference)
            named = r.headers.get("docker-content-digest")
            media_type = r.headers.get("content-type", "").split(";")[0].strip()
        digest = sha256_digest(raw)
        expected = reference if reference.startswith("sha256:") else named
        if expected and expected != digest:
            raise CorruptObject(f"manifest {expected[:80]} does not match its digest", expected)
        return Manifest(raw, digest, media_type)

    def _bounded(self, r: httpx.Response, reference: str) -> bytes:
        limit = self.max_manifest_size
        declared = r.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise MalformedData(
                f"manifest {reference[:80]} is {int(declared)} bytes, over the {limit}-byte limit"
            )
        parts, total = [], 0
        for part in r.iter_bytes():
            total += len(part)
            if total > limit:
                raise MalformedData(f"manifest {reference[:80]} is over the {limit}-byte limit")
            parts.append(part)
        return b"".join(parts)

    def put_manifest(self, repo: str, reference: str, raw: bytes, media_type: str) -> str:
        """Store manifest ``raw`` under tag (or digest) ``reference``; return its digest."""
        if len(raw) > self.max_manifest_size:
            raise MalformedData(f"manifest for {reference[:80]} is over the size limit")
        what = f"write manifest {reference}"
        r = self._send(
            what,
            "PUT",
            self._path(repo, "manifests", reference),
            content=raw,
            headers={"Content-Type": media_type},
        )
        if r.status_code not in (200, 201):
            raise status_error(what, r)
        return sha256_digest(raw)

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Delete manifest ``digest`` (and so every tag naming it); False if it was absent."""
        what = f"delete manifest {digest}"
        r = self._send(what, "DELETE", self._path(repo, "manifests", digest))
        if r.status_code == 404:
            return False
        if r.status_code == 405:
            raise CapabilityError(
                f"the registry at {self.ref.netloc} does not allow deletes (HTTP 405): deleting"
                " keys and refs needs a registry with deletes enabled"
            )
        if r.status_code not in (200, 202):
            raise status_error(what, r)
        return True

    def list_tags(self, repo: str) -> list[str]:
        """Every tag of ``repo`` (following ``Link`` pagination); [] for an unknown repo."""
        url: str | httpx.URL = self._path(repo, "tags", "list")
        tags: list[str] = []
        for _ in range(MAX_TAG_PAGES):
            r = self._send(f"list the tags of {repo}", "GET", url)
            if r.status_code == 404:
                return tags
            if r.status_code != 200:
                raise status_error(f"list the tags of {repo}", r)
            try:
                page = r.json().get("tags") or []
            except (ValueError, AttributeError) as exc:
                raise BackendError(f"unreadable tag list from {shown_url(r.request.url)}") from exc
            tags.extend(t for t in page if isinstance(t, str))
            nxt = r.links.get("next", {}).get("url")
            if not nxt:
                return tags
            url = r.request.url.join(nxt)
        raise BackendError(f"the tag list of {repo} did not end after {MAX_TAG_PAGES} pages")
