"""What the bucket adapters need from each cloud service: :class:`BucketOps`.

:class:`BucketOps` is the small set of single-object requests (conditional writes, reads with a
version token, one paginated listing) that each service module implements with the client its
fsspec filesystem already holds, so credentials and endpoints are configured once.  Its methods
raise the vendor's exceptions; the callers translate them at the edge
(:mod:`flowpack.backends.bucket.errors`).  Whether an endpoint honours the conditions is
checked once (:mod:`flowpack.backends.bucket.probe`) with :meth:`BucketOps.probe`.
"""

from __future__ import annotations

from typing import Protocol

from flowpack.cas.protocols import BlobInfo, Token

__all__ = ["PROBE_PREFIX", "BucketOps"]

#: Hidden key prefix (never a valid blob key or ref name) for precondition probes.
PROBE_PREFIX = ".flowpack-probe-"


class BucketOps(Protocol):
    """Single-object requests on one bucket; keys are full object names in the bucket.

    Every method is synchronous and thread-safe, and raises the vendor's exceptions.
    """

    def list(self, prefix: str) -> list[BlobInfo]:
        """Every object whose name starts with ``prefix`` (a plain string prefix, no
        delimiter), following pagination; ``BlobInfo.key`` is the full object name."""
        ...

    def read(self, key: str) -> tuple[bytes, Token] | None:
        """The bytes of ``key`` and its version token (ETag, generation), or None if absent."""
        ...

    def create(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if it does not exist; False (nothing written) if it does."""
        ...

    def replace(self, key: str, data: bytes, token: Token) -> bool:
        """Write ``key`` only if its version is ``token``; False if it changed or is absent."""
        ...

    def delete(self, key: str, token: Token) -> bool:
        """Delete ``key`` only if its version is ``token``; False if it changed or is absent."""
        ...

    def write(self, key: str, data: bytes) -> None:
        """Write ``key`` unconditionally."""
        ...

    def remove(self, key: str) -> None:
        """Delete ``key`` unconditionally; absent is not an error."""
        ...

    def probe(self, key: str) -> bool:
        """Write ``key`` (absent) with a precondition that cannot hold (``If-Match`` a version
        that never exists).  True if the endpoint refused it (HTTP 404 or 412), False if the
        write went through, in which case the object is removed again."""
        ...
