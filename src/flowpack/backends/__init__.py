"""Storage adapters: each moves bytes and names for one kind of location, and nothing else.

Nouns:

- **adapter**: a pair of a :class:`~flowpack.cas.protocols.BlobStore` (immutable blobs under
  slash-separated keys) and a :class:`~flowpack.cas.protocols.RefStore` (mutable names changed
  only by compare-and-set), opened together from one URL by an ``open_*(url)`` function that is
  registered under the URL scheme in the ``flowpack.backends`` entry-point group.
- **key**: a blob's name, checked by :func:`flowpack.backends.keys.check_blob_key`.
- **lock file**: the local adapter's mutual exclusion for ref updates
  (:mod:`flowpack.backends.lockfile`).

Adapters never hash, compress or interpret what they store, import only ``flowpack.cas``'s
protocols, errors and :class:`~flowpack.cas.digest.Digest`, and translate their vendor's
exceptions into :mod:`flowpack.cas.errors` once, at their edge.  Each adapter's tests subclass
the shared suites in :mod:`flowpack.cas.testing`.
"""
