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

A new location is one folder, one entry point and a five-line test:

1. ``backends/foo/``: the client code and the adapter (a blob store and a ref store declaring
   honest :class:`~flowpack.cas.protocols.Capabilities`: ``atomic_cas=False``,
   ``read_only=True``, ``listable=False`` where that is the truth), and an ``__init__.py`` whose
   docstring defines the family's nouns and which exports ``open_foo(url, **options) ->
   Location``; the opener refuses unknown options and hands what must be released (sessions,
   clones, temporary directories) to the location (``closers``, ``on_close``).
2. ``pyproject.toml``: ``foo = "flowpack.backends.foo:open_foo"`` under
   ``[project.entry-points."flowpack.backends"]``, one line per URL scheme (and, when the
   family needs optional dependencies, an extra, named for its scheme in ``_EXTRAS`` of
   :mod:`flowpack.cas.registry`).
3. ``tests/backends/test_foo.py``: a subclass of each conformance suite whose fixture opens a
   fresh location on the family's real test server::

       class TestFooBlobs(BlobStoreConformance):
           @pytest.fixture
           def blob_store(self, foo_server: FooServer) -> Iterator[BlobStore]:
               with open_location(foo_server.fresh_url()) as location:
                   yield location.blobs

   (the ref store's is the same with ``ref_store``, ``location.refs`` and ``corrupt_ref``).
"""
