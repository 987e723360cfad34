"""`OciBlobStore`: flowpack blobs as registry blobs, each found through its key's tag.

``put(key, data)`` uploads ``data`` as a registry blob (HEAD first: bytes the repository has
are not sent again), then writes the key's blob manifest under the tag ``blob.<key>``
(:mod:`.artifacts`, :mod:`.tags`).  ``get`` reads the tag's manifest, then the blob, with a
``Range`` request for a partial read.  A reader therefore sees a whole old value or a whole
new one, never a partial blob: the tag moves only once the blob is complete.

Registries have no conditional tag write, so ``create_only`` is check, write, re-read: the
re-read reports :class:`AlreadyExists` when another writer's tag replaced ours, and under a race
several creators may each see the key absent (``atomic_create=False``).  ``delete`` removes the
key's manifest (and so its tag); the registry blob stays until the registry's own garbage
collection, since another key may hold the same bytes.

``iter_keys`` lists the repository's tags and reads each matching key's manifest: it finds
every key written through flowpack, but registries are not required to offer tag listing and
may cap it, so the store declares ``listable=False`` and the core does not rely on it for gc.
Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import blake3

from flowpack.backends.keys import check_blob_key, check_key_prefix, check_range
from flowpack.backends.oci import artifacts, tags
from flowpack.backends.oci.artifacts import Descriptor
from flowpack.backends.oci.client import OCI_MANIFEST, RegistryClient
from flowpack.cas.errors import AlreadyExists, NotFound
from flowpack.cas.protocols import BlobInfo, Capabilities

__all__ = ["OCI_CAPABILITIES", "OciBlobStore"]

OCI_CAPABILITIES = Capabilities(
    atomic_create=False,
    atomic_cas=False,
    range_reads=True,
    max_connections=8,
    durable=True,
    remote=True,
    read_only=False,
    listable=False,
)


class OciBlobStore:
    """A :class:`~flowpack.cas.protocols.BlobStore` in registry repository ``repo``.

    ``mount_from`` names another repository on the same registry whose blobs may be mounted
    instead of uploaded (cross-repository mount).  :meth:`take_pushed` hands the ref store the
    descriptors uploaded since its last call, for the push's ref manifest.
    """

    def __init__(self, client: RegistryClient, repo: str, *, mount_from: str | None = None) -> None:
        self.client = client
        self.repo = repo
        self.mount_from = mount_from
        self._lock = threading.Lock()
        self._pushed: list[Descriptor] = []
        self._config_ready = False
        self._config_lock = threading.Lock()

    @property
    def capabilities(self) -> Capabilities:
        return OCI_CAPABILITIES

    def ensure_empty_config(self) -> None:
        """Upload the empty ``{}`` config every flowpack manifest names (once per store)."""
        with self._config_lock:
            if not self._config_ready:
                self.client.upload_blob(self.repo, artifacts.EMPTY, mount_from=self.mount_from)
                self._config_ready = True

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        """Upload, then tag; with ``create_only``, check first and re-read after (not atomic)."""
        tag = tags.encode_tag(tags.BLOB, check_blob_key(key))
        if create_only and self.client.manifest_digest(self.repo, tag) is not None:
            raise AlreadyExists(f"blob {key!r} already exists in {self.client.ref.url}")
        digest = self.client.upload_blob(self.repo, data, mount_from=self.mount_from)
        desc = Descriptor(digest, len(data), key, "blake3:" + blake3.blake3(data).hexdigest())
        self.ensure_empty_config()
        raw = artifacts.blob_manifest(desc)
        mine = self.client.put_manifest(self.repo, tag, raw, OCI_MANIFEST)
        with self._lock:
            self._pushed.append(desc)
        if create_only and self.client.manifest_digest(self.repo, tag) != mine:
            raise AlreadyExists(f"blob {key!r} was created by another writer at the same time")

    def take_pushed(self) -> list[Descriptor]:
        """The descriptors uploaded since the previous call, in upload order."""
        with self._lock:
            pushed, self._pushed = self._pushed, []
        return pushed

    def give_back(self, pushed: list[Descriptor]) -> None:
        """Return descriptors :meth:`take_pushed` handed out to a ref update that failed."""
        with self._lock:
            self._pushed[:0] = pushed

    def _locate(self, key: str) -> tuple[str, int]:
        tag = tags.encode_tag(tags.BLOB, check_blob_key(key))
        found = self.client.get_manifest(self.repo, tag)
        if found is None:
            raise NotFound(f"no blob {key!r} in {self.client.ref.url}")
        doc = artifacts.parse_manifest(found.raw, f"blob {key!r}")
        return artifacts.blob_descriptor(doc, key)

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """The key's bytes from ``offset`` (at most ``length``); one manifest and one blob read."""
        check_blob_key(key)
        check_range(offset, length)
        digest, size = self._locate(key)
        return self.client.get_blob(self.repo, digest, size, offset, length)

    def stat(self, key: str) -> BlobInfo:
        """The key's size, from its manifest (no modification time: registries keep none)."""
        return BlobInfo(key, self._locate(key)[1])

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        """The keys under ``prefix`` that the tag list shows, sorted; one read per key."""
        check_key_prefix(prefix)
        keys = sorted(
            k
            for k in (tags.decode_tag(tags.BLOB, t) for t in self.client.list_tags(self.repo))
            if k is not None and k.startswith(prefix)
        )
        infos: list[BlobInfo] = []
        for key in keys:
            try:
                infos.append(self.stat(key))
            except NotFound:
                continue  # deleted since the listing
        return iter(infos)

    def delete(self, key: str) -> None:
        """Remove the key's manifest and tag; idempotent.  The bytes go at the registry's gc."""
        tag = tags.encode_tag(tags.BLOB, check_blob_key(key))
        digest = self.client.manifest_digest(self.repo, tag)
        if digest is not None:
            self.client.delete_manifest(self.repo, digest)
