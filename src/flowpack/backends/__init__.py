"""Storage adapters: each moves bytes and names for one kind of location, and nothing else.

One folder per family, each opening its URL schemes into a
:class:`~flowpack.cas.location.Location`:

- :mod:`flowpack.backends.local`: ``file://`` and plain paths (a directory; lock files);
- :mod:`flowpack.backends.memory`: ``memory://`` (this process's memory);
- :mod:`flowpack.backends.bucket`: ``s3://``, ``gs://``, ``az://`` (object storage through
  fsspec: blobs, refs, ops, errors, URL parsing, assembling, retrying and the three clients).

Nouns:

- **adapter**: a pair of a :class:`~flowpack.cas.protocols.BlobStore` (immutable blobs under
  slash-separated keys) and a :class:`~flowpack.cas.protocols.RefStore` (mutable names changed
  only by compare-and-set).
- **opener**: ``open_x(url, **options) -> Location``, exported by the family's
  ``__init__`` and registered under each URL scheme in the ``flowpack.backends`` entry-point
  group; it refuses options it does not know (:func:`flowpack.cas.location.refuse_options`).
- **location**: what an opener returns: the adapter, its capabilities, and what ``close()``
  releases (SDK sessions, connection pools).
- **key**: a blob's name, checked by :func:`flowpack.backends.keys.check_blob_key` (shared by
  every family, so it stays at this level).

Adapters never hash, compress or interpret what they store, import only ``flowpack.cas``'s
protocols, errors, location and :class:`~flowpack.cas.digest.Digest` (never the packer, the
storage classes or the CLI: ``lint-imports`` holds this), and translate their vendor's
exceptions into :mod:`flowpack.cas.errors` once, at their edge.  Each adapter's tests subclass
the shared suites in :mod:`flowpack.cas.testing`.
"""
