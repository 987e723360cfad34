"""A git repository as a flowpack store: blobs and refs as git objects under ``refs/flowpack/``.

Layout (names encoded by :mod:`flowpack.backends.git.naming`)::

    refs/flowpack/blobs/<key>@   -> a commit: tree {"data": <blob>}, message "size: N"
    refs/flowpack/refs/<name>@   -> a blob holding encode_ref_value(digest)

Every update is a push whose command carries the expected old object id; receive-pack (or, for
``file://``, dulwich's lock-file ref update) applies it only if the ref still has that id, so
create-only puts and compare-and-set are atomic.  The repository's own branches are never
touched: ``git clone`` still copies them, and ``git gc`` keeps every object a ref reaches.  The
commit's time is the blob's mtime (gc's grace period); its message records the size, so a
listing fetches commits and trees only (``blob:none``), never the blobs.  Objects are immutable,
so what was fetched is cached by object id (blob bytes up to ``cache_bytes``).
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from flowpack.backends.git import naming
from flowpack.backends.git.remote import GitRemote
from flowpack.backends.keys import check_blob_key, check_key_prefix, check_range
from flowpack.cas.digest import Digest
from flowpack.cas.errors import AlreadyExists, BackendError, NotFound, TransientBackendError
from flowpack.cas.protocols import BlobInfo, Capabilities, Token
from flowpack.cas.refname import check_ref_name
from flowpack.cas.refvalue import decode_ref_value, encode_ref_value

__all__ = ["CAPABILITIES", "GitBlobStore", "GitRefStore"]

CAPABILITIES = Capabilities(
    atomic_create=True,
    atomic_cas=True,
    range_reads=False,
    max_connections=4,
    durable=True,
    remote=True,
)
_AUTHOR = b"flowpack <flowpack@localhost>"
_DATA = b"data"
_ATTEMPTS = 64


class GitBlobStore:
    """Blobs as commits on ``refs/flowpack/blobs/...`` of ``remote``.  Thread-safe.

    ``put(create_only=True)`` pushes with the zero id as the expected old id: exactly one of
    racing creators wins.  An overwrite or a delete re-reads the ref and pushes with its id,
    retrying when another writer moved it first.  Readers see whole blobs only.
    """

    def __init__(self, remote: GitRemote, *, cache_bytes: int = 64 << 20) -> None:
        self.remote = remote
        self._lock = threading.Lock()
        self._meta: dict[str, tuple[int, float]] = {}
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached = 0

    @property
    def capabilities(self) -> Capabilities:
        """Atomic create and compare-and-set (checked by the server), no range reads."""
        return CAPABILITIES

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        """Store ``data`` as a commit and point the key's ref at it (see the class docstring).

        Raises :class:`AlreadyExists` (create-only, key present), :class:`TransientBackendError`
        (still losing races after many attempts), and the remote's errors.
        """
        ref = naming.encode(naming.BLOBS, check_blob_key(key))
        objects = _blob_commit(bytes(data))
        commit_id = objects[-1].id.decode()
        for attempt in range(_ATTEMPTS):
            current = self.remote.ls_remote(ref).get(ref)
            if create_only and current is not None:
                raise AlreadyExists(f"blob {key!r} already exists in {self.remote.url}")
            if self.remote.push({ref: (current, commit_id)}, objects):
                self._remember(commit_id, len(data), float(objects[-1].commit_time), bytes(data))
                return
            _backoff(attempt)
        raise TransientBackendError(f"cannot store blob {key!r}: other writers kept winning")

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """The bytes of ``key`` from ``offset`` (a whole fetch, then sliced); NotFound if absent."""
        check_range(offset, length)
        commit_id = self._commit_of(key)
        data = self._load(key, commit_id)
        end = len(data) if length is None else offset + length
        return data[offset:end]

    def stat(self, key: str) -> BlobInfo:
        """Size and mtime (commit time) of ``key``; :class:`NotFound` if absent."""
        commit_id = self._commit_of(key)
        size, mtime = self._metadata([commit_id])[commit_id]
        return BlobInfo(key, size, mtime)

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        """A snapshot of the keys starting with ``prefix``: one ls-remote, one partial fetch."""
        check_key_prefix(prefix)
        found: dict[str, str] = {}
        for ref, commit_id in self.remote.ls_remote(naming.BLOBS).items():
            key = naming.decode(naming.BLOBS, ref)
            if key is not None and key.startswith(prefix):
                found[key] = commit_id
        meta = self._metadata(list(found.values()))
        infos = [BlobInfo(k, *meta[c]) for k, c in sorted(found.items())]
        return iter(infos)

    def delete(self, key: str) -> None:
        """Delete the key's ref (the objects go at the server's next ``git gc``); idempotent."""
        ref = naming.encode(naming.BLOBS, check_blob_key(key))
        for attempt in range(_ATTEMPTS):
            current = self.remote.ls_remote(ref).get(ref)
            if current is None or self.remote.push({ref: (current, None)}):
                return
            _backoff(attempt)
        raise TransientBackendError(f"cannot delete blob {key!r}: other writers kept winning")

    def _commit_of(self, key: str) -> str:
        ref = naming.encode(naming.BLOBS, check_blob_key(key))
        commit_id = self.remote.ls_remote(ref).get(ref)
        if commit_id is None:
            raise NotFound(f"no blob {key!r} in {self.remote.url}")
        return commit_id

    def _load(self, key: str, commit_id: str) -> bytes:
        with self._lock:
            cached = self._data.get(commit_id)
            if cached is not None:
                self._data.move_to_end(commit_id)
                return cached
        store = self.remote.fetch([commit_id])
        commit = store[commit_id.encode()]
        try:
            _mode, blob_id = store[commit.tree][_DATA]
            data: bytes = store[blob_id].as_raw_string()
        except KeyError as exc:
            raise BackendError(
                f"blob {key!r} in {self.remote.url} is not a flowpack blob commit"
            ) from exc
        self._remember(commit_id, len(data), float(commit.commit_time), data)
        return data

    def _metadata(self, commit_ids: list[str]) -> dict[str, tuple[int, float]]:
        with self._lock:
            missing = sorted({c for c in commit_ids if c not in self._meta})
        if missing:
            store = self.remote.fetch(missing, filter_spec="blob:none")
            for commit_id in missing:
                commit = store[commit_id.encode()]
                size = _size_of(commit.message, commit_id, self.remote.url)
                with self._lock:
                    self._meta[commit_id] = (size, float(commit.commit_time))
        with self._lock:
            return {c: self._meta[c] for c in commit_ids}

    def _remember(self, commit_id: str, size: int, mtime: float, data: bytes) -> None:
        with self._lock:
            self._meta[commit_id] = (size, mtime)
            if len(data) > self._cache_bytes // 4 or commit_id in self._data:
                return
            self._data[commit_id] = data
            self._cached += len(data)
            while self._cached > self._cache_bytes:
                _, dropped = self._data.popitem(last=False)
                self._cached -= len(dropped)


class GitRefStore:
    """Refs as git refs ``refs/flowpack/refs/<name>@`` pointing at value blobs.  Thread-safe.

    The token is the blob's object id, which is what the push sends as the expected old id; a
    ref that goes from A to B and back to A has A's token again (as in git itself).
    """

    def __init__(self, remote: GitRemote) -> None:
        self.remote = remote
        self._lock = threading.Lock()
        self._values: dict[str, bytes] = {}

    @property
    def capabilities(self) -> Capabilities:
        """Atomic compare-and-set (the server checks the old id under its ref lock)."""
        return CAPABILITIES

    def read(self, name: str) -> tuple[Digest, Token] | None:
        """The value and token of ``name``, or None; :class:`MalformedData` if damaged."""
        ref = naming.encode(naming.REFS, check_ref_name(name))
        blob_id = self.remote.ls_remote(ref).get(ref)
        if blob_id is None:
            return None
        return decode_ref_value(self._values_of([blob_id])[blob_id], name), blob_id

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        """A snapshot of the refs whose name starts with ``prefix``, sorted by name."""
        found: dict[str, str] = {}
        for ref, blob_id in self.remote.ls_remote(naming.REFS).items():
            name = naming.decode(naming.REFS, ref)
            if name is not None and name.startswith(prefix):
                found[name] = blob_id
        values = self._values_of(list(found.values()))
        return iter([(n, decode_ref_value(values[b], n)) for n, b in sorted(found.items())])

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        """Push the new value with ``expected`` as the old id; False when the server refuses."""
        from dulwich.objects import Blob

        ref = naming.encode(naming.REFS, check_ref_name(name))
        blob = Blob.from_string(encode_ref_value(new))
        return self.remote.push({ref: (expected, blob.id.decode())}, [blob])

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        """Delete ``name`` if its value blob is still ``expected``; False otherwise."""
        ref = naming.encode(naming.REFS, check_ref_name(name))
        return self.remote.push({ref: (expected, None)})

    def _values_of(self, blob_ids: list[str]) -> Mapping[str, bytes]:
        with self._lock:
            missing = sorted({b for b in blob_ids if b not in self._values})
        if missing:
            store = self.remote.fetch(missing)
            with self._lock:
                for blob_id in missing:
                    self._values[blob_id] = store[blob_id.encode()].as_raw_string()
        with self._lock:
            return {b: self._values[b] for b in blob_ids}


def _blob_commit(data: bytes) -> list[Any]:
    """[blob, tree, commit] storing ``data``; the commit records the size and the time."""
    from dulwich.objects import Blob, Commit, Tree

    blob = Blob.from_string(data)
    tree = Tree()
    tree.add(_DATA, 0o100644, blob.id)
    commit = Commit()
    commit.tree = tree.id
    commit.author = commit.committer = _AUTHOR
    commit.commit_time = commit.author_time = int(time.time())
    commit.commit_timezone = commit.author_timezone = 0
    commit.message = f"flowpack blob\n\nsize: {len(data)}\n".encode("ascii")
    return [blob, tree, commit]


def _size_of(message: bytes, commit_id: str, url: str) -> int:
    for line in message.decode("utf-8", "replace").splitlines():
        if line.startswith("size: ") and line[6:].isdigit():
            return int(line[6:])
    raise BackendError(f"commit {commit_id} in {url} is not a flowpack blob commit (no size)")


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.5, 0.01 * (attempt + 1))))
