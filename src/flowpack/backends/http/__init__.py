"""``http://`` and ``https://``: flowpack's own HTTP store protocol, server and client.

Nouns:

- the *wire* (:mod:`.wire`): paths, headers and JSON shapes both sides agree on;
- the *token book* (:mod:`.auth`): scoped bearer tokens kept hashed in the server's config file;
- the *server* (:mod:`.server`, :mod:`.server_blobs`, :mod:`.server_refs`): a starlette app that
  serves one store's blob and ref stores, run by uvicorn (:mod:`.serving`);
- the *client* (:mod:`.client`, :mod:`.client_refs`): :class:`HttpBlobStore` and
  :class:`HttpRefStore` over one pooled httpx client, opened by :func:`open_http`.

Only the client needs httpx and only the server needs starlette and uvicorn (the ``server``
extra installs all three); importing this package imports neither.
"""
