"""``memory://``: blob and ref stores held in this process's memory.

``memory://NAME`` opens the same process-wide pair for the same NAME, so two opens share state
(handy for tests and for wiring a CLI to a library in one process); ``memory://`` alone opens a
fresh, private pair.  Nothing survives the process: ``capabilities.durable`` is False.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

from flowpack.backends.keys import check_blob_key, check_key_prefix, check_range
from flowpack.cas.digest import Digest
from flowpack.cas.errors import AlreadyExists, NotFound, UsageError
from flowpack.cas.location import Location, refuse_options
from flowpack.cas.protocols import BlobInfo, Capabilities, Token
from flowpack.cas.refname import check_ref_name
from flowpack.cas.refvalue import decode_ref_value, encode_ref_value

__all__ = ["MemoryBlobStore", "MemoryRefStore", "open_memory"]

SCHEME = "memory"
_CAPABILITIES = Capabilities(
    atomic_create=True,
    atomic_cas=True,
    range_reads=True,
    max_connections=16,
    durable=False,
    remote=False,
)


class MemoryBlobStore:
    """Blobs in a dict guarded by a lock.  Every method is atomic and thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, tuple[bytes, float]] = {}

    @property
    def capabilities(self) -> Capabilities:
        """Atomic create and range reads; not durable."""
        return _CAPABILITIES

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        """Store a copy of ``data``; :class:`AlreadyExists` if ``create_only`` and present."""
        check_blob_key(key)
        value = bytes(data)
        with self._lock:
            if create_only and key in self._blobs:
                raise AlreadyExists(f"blob {key!r} already exists")
            self._blobs[key] = (value, time.time())

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """The bytes of ``key`` in ``[offset, offset + length)``; :class:`NotFound` if absent."""
        check_blob_key(key)
        check_range(offset, length)
        with self._lock:
            entry = self._blobs.get(key)
        if entry is None:
            raise NotFound(f"no blob {key!r}")
        data = entry[0]
        end = len(data) if length is None else offset + length
        return data[offset:end]

    def stat(self, key: str) -> BlobInfo:
        """Size and time of storing of ``key``; :class:`NotFound` if absent."""
        check_blob_key(key)
        with self._lock:
            entry = self._blobs.get(key)
        if entry is None:
            raise NotFound(f"no blob {key!r}")
        return BlobInfo(key, len(entry[0]), entry[1])

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        """A snapshot of the blobs whose key starts with ``prefix``, sorted by key."""
        check_key_prefix(prefix)
        with self._lock:
            found = [
                BlobInfo(k, len(v), t) for k, (v, t) in self._blobs.items() if k.startswith(prefix)
            ]
        return iter(sorted(found, key=lambda info: info.key))

    def delete(self, key: str) -> None:
        """Remove ``key``; idempotent."""
        check_blob_key(key)
        with self._lock:
            self._blobs.pop(key, None)


class MemoryRefStore:
    """Refs in a dict guarded by a lock; compare-and-set is atomic and thread-safe.

    Values are kept in their stored form (:func:`encode_ref_value`) and verified on every read.
    Tokens come from a store-wide counter, so a token is never reused, even after the ref goes
    from A to B and back to A.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refs: dict[str, tuple[bytes, Token]] = {}
        self._counter = itertools.count(1)

    @property
    def capabilities(self) -> Capabilities:
        """Atomic compare-and-set; not durable."""
        return _CAPABILITIES

    def read(self, name: str) -> tuple[Digest, Token] | None:
        """The value and token of ``name``, or None; :class:`MalformedData` if damaged."""
        check_ref_name(name)
        with self._lock:
            entry = self._refs.get(name)
        if entry is None:
            return None
        return decode_ref_value(entry[0], name), entry[1]

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        """A snapshot of the refs whose name starts with ``prefix``, sorted by name."""
        with self._lock:
            found = sorted((n, v) for n, (v, _) in self._refs.items() if n.startswith(prefix))
        return iter([(n, decode_ref_value(v, n)) for n, v in found])

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        """Point ``name`` at ``new`` if its token is ``expected`` (None: absent); atomic."""
        check_ref_name(name)
        value = encode_ref_value(new)
        with self._lock:
            entry = self._refs.get(name)
            if (entry[1] if entry else None) != expected:
                return False
            self._refs[name] = (value, f"m{next(self._counter)}")
            return True

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        """Remove ``name`` if its token is ``expected``; False when changed or absent; atomic."""
        check_ref_name(name)
        with self._lock:
            entry = self._refs.get(name)
            if entry is None or entry[1] != expected:
                return False
            del self._refs[name]
            return True


_named: dict[str, tuple[MemoryBlobStore, MemoryRefStore]] = {}
_named_lock = threading.Lock()


def open_memory(url: str, **options: Any) -> Location:
    """Open ``memory://NAME`` (shared process-wide by NAME) or ``memory://`` (a fresh pair).

    Raises :class:`UsageError` for a URL of another scheme or any option.
    """
    refuse_options(SCHEME, options)
    head, sep, name = url.partition("://")
    if not sep or head.lower() != SCHEME:
        raise UsageError(f"not a memory:// URL: {url!r}")
    name = name.strip("/")
    if not name:
        return Location(url, MemoryBlobStore(), MemoryRefStore())
    with _named_lock:
        pair = _named.get(name)
        if pair is None:
            pair = _named[name] = (MemoryBlobStore(), MemoryRefStore())
    return Location(url, *pair)
