"""The two adapter protocols every backend implements, and their declared capabilities.

Adapters move bytes and names; they never hash, compress or interpret what they store.  All
methods are synchronous and must be safe to call from several threads at once.  Errors are
always members of :mod:`flowpack.cas.errors`: an adapter translates its vendor's exceptions
at its edge and lets nothing else escape.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from flowpack.cas.digest import Digest

#: An opaque version token for a ref (an ETag, a generation, a git object id, file content hash).
Token = str


@dataclass(frozen=True)
class Capabilities:
    """What a backend guarantees; the conformance suite checks every claim made here.

    ``atomic_create``: ``BlobStore.put(create_only=True)`` is atomic under races (exactly one
    concurrent creator wins).  ``atomic_cas``: ``RefStore.compare_and_set`` is linearizable.
    ``range_reads``: ``get(offset, length)`` costs a ranged request, not a whole download.
    ``max_connections``: how many concurrent requests the core should issue at most.
    ``durable``: data survives a process or machine restart (False for ``memory://``).
    ``remote``: a read costs a round trip, so the core keeps the frames it reads and writes in a
    local cache (False for local files and memory, which need none).
    ``read_only``: the place refuses every write (a published HTTP endpoint, a mirror); the core
    refuses pushes, ref updates and gc there with one clear line before any request.
    ``listable``: ``iter_keys`` enumerates every blob (False for an OCI registry, which can only
    answer for blobs it is asked about).  Where False, the adapter still lists the small control
    prefixes ``index/`` and ``gc/``; the core never lists ``packs/`` there: gc refuses and
    verify works from what the index and refs reach (:mod:`flowpack.cas.guards`).
    """

    atomic_create: bool = True
    atomic_cas: bool = True
    range_reads: bool = True
    max_connections: int = 4
    durable: bool = True
    remote: bool = True
    read_only: bool = False
    listable: bool = True


@dataclass(frozen=True)
class BlobInfo:
    """What ``stat`` and ``iter_keys`` report of a stored blob."""

    key: str
    size: int
    mtime: float | None = None


@runtime_checkable
class BlobStore(Protocol):
    """Immutable blobs under slash-separated keys (``packs/<hex>``, ``index/<hex>``, ``config``).

    Keys are ASCII, relative, and never contain ``..`` or empty segments.
    """

    @property
    def capabilities(self) -> Capabilities:
        """The declared guarantees of this backend."""
        ...

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        """Store ``data`` under ``key``, all or nothing: a reader never sees a partial blob.

        With ``create_only`` (the default) an existing key is left untouched and
        :class:`AlreadyExists` is raised; callers that write content-addressed keys treat that
        as success.  Without it the blob is replaced atomically.  Idempotent; thread-safe.
        Raises :class:`BackendError` (or a subclass) on failure.
        """
        ...

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """Return the bytes of ``key`` from ``offset``, at most ``length`` of them.

        A range past the end is truncated, never padded.  Raises :class:`NotFound` when the key
        does not exist.  Thread-safe.
        """
        ...

    def stat(self, key: str) -> BlobInfo:
        """Size (and modification time where known) of ``key``; :class:`NotFound` if absent."""
        ...

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every blob whose key starts with ``prefix``, in no particular order.

        Blobs being written concurrently may or may not appear; partial uploads never do.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``.  Idempotent: deleting an absent key is not an error."""
        ...


@runtime_checkable
class LeftoverCleaner(Protocol):
    """An optional hook of a blob store whose writes go through temporary files of its own.

    A killed writer can leave such files behind (the local adapter's ``.tmp-*``); they are
    never listed as blobs, so only the adapter can find them.  ``gc`` removes those older than
    its grace period through this hook.
    """

    def leftovers(self, older_than: float) -> list[BlobInfo]:
        """The adapter's temporary files last modified before ``older_than`` (epoch seconds),
        ``key`` being a path relative to the store.  Thread-safe; never lists a blob."""
        ...

    def remove_leftover(self, key: str) -> None:
        """Remove the temporary file ``key`` (as :meth:`leftovers` named it); idempotent.

        Raises :class:`UsageError` for a name that is not a temporary file of the adapter.
        """
        ...


@runtime_checkable
class RefStore(Protocol):
    """Mutable names pointing at digests, changed only by compare-and-set.

    Names follow :func:`flowpack.cas.refname.check_ref_name` (``flows/proj/flow``, ``runs/x``,
    ``tags/v1``).  Values are serialised by the adapter with
    :func:`flowpack.cas.refvalue.encode_ref_value` and read back with ``decode_ref_value``, so
    a damaged ref is reported as :class:`CorruptObject` instead of pointing somewhere wrong.
    """

    @property
    def capabilities(self) -> Capabilities:
        """The declared guarantees of this backend."""
        ...

    def read(self, name: str) -> tuple[Digest, Token] | None:
        """The current value of ``name`` and a token for compare-and-set, or None if absent."""
        ...

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        """Every ref whose name starts with ``prefix``, with its current value."""
        ...

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        """Point ``name`` at ``new`` if its token is still ``expected`` (None: must not exist).

        Returns False, changing nothing, when another writer got there first.  Atomic when
        ``capabilities.atomic_cas`` is True.  Thread-safe.
        """
        ...

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        """Remove ``name`` if its token is still ``expected``; False on a lost race or absence."""
        ...
