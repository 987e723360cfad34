"""OCI registries (the distribution API) as flowpack locations: ``oci+https://host/repo``.

Nouns:

- *registry*: an HTTP server speaking the OCI distribution API (``/v2/...``);
  :class:`~flowpack.backends.oci.client.RegistryClient` is flowpack's client for it.
- *repository*: a name on a registry (``team/flows``) holding blobs, manifests and tags.
- *registry blob*: bytes addressed by their sha256 (the registry's digest); flowpack's blobs
  (packs, index files, config) are stored as registry blobs.
- *manifest*: a small JSON document naming registry blobs; flowpack writes OCI artifact
  manifests (``artifactType`` ``application/vnd.flowpack.*``) whose annotations carry the blob
  key, its blake3 digest, and ref values.
- *tag*: a mutable name of a manifest in a repository.  Every blob key and every ref is one tag
  (:mod:`~flowpack.backends.oci.tags`); tags are last-writer-wins, so refs declare
  ``atomic_cas=False``.

:func:`open_oci` is the opener registered for ``oci+http`` and ``oci+https``.
"""

from __future__ import annotations

from flowpack.backends.oci.opener import open_oci

__all__ = ["open_oci"]
