"""``file://`` and plain paths: a store in a directory of the local (or a network) file system.

Layout under the root::

    config, packs/<hex>, index/<hex>, ...   blobs, one file per key (LocalBlobStore)
    refs/<name>                             refs, one file per name (LocalRefStore)
    .../.tmp-*, refs/.../<name>.lock        working files: hidden, never listed

Blob writes are atomic: the bytes go to a temporary file in the target directory, are fsynced,
then published with ``os.link`` (create-only: the link fails if the key exists, so exactly one
concurrent creator wins) or ``os.replace`` (overwrite), and the directory is fsynced.  Ref
updates take an ``O_EXCL`` lock file (:mod:`flowpack.backends.local.lockfile`), re-read and
compare the ref, publish the new value by rename and fsync the directory.  Both are safe for
any number of threads and processes, on one host or over NFS.  ``OSError`` is translated into
:mod:`flowpack.cas.errors` here, at the edge.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from flowpack.backends.keys import check_blob_key, check_key_prefix, check_range
from flowpack.backends.local.leftovers import find_leftovers, remove_leftover
from flowpack.backends.local.lockparams import (
    BREAKER_NAME,
    DEFAULT_STALE_AFTER,
    DEFAULT_TIMEOUT,
)
from flowpack.backends.local.ranges import PREAD, read_range
from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    AlreadyExists,
    BackendError,
    FlowpackError,
    InvalidRefName,
    NotFound,
    PermissionDenied,
    TransientBackendError,
    UsageError,
)
from flowpack.cas.protocols import BlobInfo, Capabilities, Token
from flowpack.cas.refname import check_ref_name
from flowpack.cas.refvalue import decode_ref_value, encode_ref_value

if TYPE_CHECKING:
    from flowpack.backends.local.lockfile import LockFile

__all__ = ["LocalBlobStore", "LocalRefStore"]

REFS_DIR = "refs"
_CAPABILITIES = Capabilities(
    atomic_create=True,
    atomic_cas=True,
    range_reads=True,
    max_connections=8,
    durable=True,
    remote=False,
)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_TRANSIENT = {errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.EINTR}
_NO_HARD_LINKS = {errno.EPERM, errno.ENOSYS, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", -1)}


class LocalBlobStore:
    """Blobs as files under ``root``; the top-level ``refs/`` belongs to :class:`LocalRefStore`.

    Nothing is created until the first ``put``.  All methods are thread- and process-safe.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def capabilities(self) -> Capabilities:
        """Atomic create (hard links), cheap range reads, durable (fsync)."""
        return _CAPABILITIES

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        """Write ``data`` to a temp file, fsync, publish it atomically, fsync the directory.

        Raises :class:`AlreadyExists` (original untouched) if ``create_only`` and the key exists,
        :class:`PermissionDenied` or :class:`BackendError` on I/O failure.  A failed put leaves
        no visible trace.
        """
        path = self._path(key)
        with _os_errors(f"cannot store blob {key!r} under {self.root}"):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _write_temp(path.parent, data)
            try:
                if create_only:
                    _link_new(tmp, path, key)
                else:
                    tmp.replace(path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            _fsync_dir(path.parent)

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """Read ``length`` bytes (all if None) from ``offset``; :class:`NotFound` if absent."""
        path = self._path(key)
        check_range(offset, length)
        missing = f"no blob {key!r} under {self.root}"
        with _os_errors(f"cannot read blob {key!r}", missing):
            if length is not None and PREAD:  # a frame: open, pread, close, no more
                return read_range(path, offset, length)
            with open(path, "rb") as f:
                if offset:
                    f.seek(offset)
                return f.read() if length is None else f.read(length)

    def stat(self, key: str) -> BlobInfo:
        """Size and mtime of ``key``; :class:`NotFound` if absent."""
        path = self._path(key)
        missing = f"no blob {key!r} under {self.root}"
        with _os_errors(f"cannot stat blob {key!r}", missing):
            st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise NotFound(missing)
        return BlobInfo(key, st.st_size, st.st_mtime)

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Walk the directories that can hold keys starting with ``prefix``, lazily.

        Temp files, working files and names that are not valid keys are never listed.
        """
        check_key_prefix(prefix)
        head = prefix.rpartition("/")[0]
        if head.split("/", 1)[0] == REFS_DIR:
            return iter(())
        return self._walk(self.root / head if head else self.root, head, prefix)

    def delete(self, key: str) -> None:
        """Unlink ``key`` and fsync its directory; idempotent."""
        path = self._path(key)
        with _os_errors(f"cannot delete blob {key!r} under {self.root}"):
            if path.is_dir():
                return
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                return
            _fsync_dir(path.parent)

    def leftovers(self, older_than: float) -> list[BlobInfo]:
        """Temporary files (of killed writers) older than ``older_than``: see
        :mod:`flowpack.backends.local.leftovers`."""
        with _os_errors(f"cannot list temporary files under {self.root}"):
            return find_leftovers(self.root, older_than)

    def remove_leftover(self, key: str) -> None:
        """Remove one temporary file :meth:`leftovers` named; idempotent."""
        with _os_errors(f"cannot remove temporary file {key!r} under {self.root}"):
            remove_leftover(self.root, key)

    def _path(self, key: str) -> Path:
        check_blob_key(key)
        if key.split("/", 1)[0] == REFS_DIR:
            raise UsageError(f"blob key {key!r} is reserved: {REFS_DIR}/ holds the refs")
        return self.root / key

    def _walk(self, directory: Path, rel: str, prefix: str) -> Iterator[BlobInfo]:
        for entry in _listing(directory, f"cannot list {directory}"):
            key = f"{rel}/{entry.name}" if rel else entry.name
            if entry.name.startswith(".") or (not rel and entry.name == REFS_DIR):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if is_dir:
                    below = key + "/"
                    if below.startswith(prefix) or prefix.startswith(below):
                        yield from self._walk(Path(entry.path), key, prefix)
                    continue
                if not key.startswith(prefix) or not _is_key(key):
                    continue
                st = entry.stat()
            except FileNotFoundError:  # deleted while we walked
                continue
            except OSError as exc:
                raise _translate(exc, f"cannot list {directory}") from exc
            if stat.S_ISREG(st.st_mode):
                yield BlobInfo(key, st.st_size, st.st_mtime)


class LocalRefStore:
    """Refs as files under ``root/refs``, each holding :func:`encode_ref_value` bytes.

    The token is a hash of the file's bytes, so it changes whenever the value does (a ref that
    goes from A to B and back to A has A's token again, which compare-and-set treats as
    unchanged, as git does).  ``compare_and_set`` and ``compare_and_delete`` are atomic across
    threads, processes and hosts; a lock held by a live process is waited for up to
    ``lock_timeout`` seconds, then :class:`TransientBackendError` is raised.
    """

    def __init__(
        self,
        root: Path,
        *,
        lock_timeout: float = DEFAULT_TIMEOUT,
        stale_after: float = DEFAULT_STALE_AFTER,
    ) -> None:
        self.root = Path(root)
        self.refs_dir = self.root / REFS_DIR
        self.lock_timeout = lock_timeout
        self.stale_after = stale_after

    @property
    def capabilities(self) -> Capabilities:
        """Atomic compare-and-set (lock files), durable (fsync)."""
        return _CAPABILITIES

    def read(self, name: str) -> tuple[Digest, Token] | None:
        """The value and token of ``name``, or None; :class:`MalformedData` if damaged."""
        path = self._path(name)
        data = self._load(name, path)
        if data is None:
            return None
        return decode_ref_value(data, name), _token(data)

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        """Every ref under ``prefix``, lazily; lock and temp files are never listed."""
        return self._walk(self.refs_dir, "", prefix)

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        """Under the ref's lock: re-read, compare tokens, publish ``new`` by rename, fsync."""
        path = self._path(name)
        value = encode_ref_value(new)
        with _os_errors(f"cannot update ref {name!r} under {self.root}"):
            self._make_parents(name, path)
            with self._lock(path) as lock:
                current = self._load(name, path)
                if (None if current is None else _token(current)) != expected:
                    return False
                tmp = _write_temp(path.parent, value, prefix=f".{path.name}.tmp-")
                try:
                    self._clear_empty_dir(name, path)
                    if not lock.still_held():
                        raise TransientBackendError(f"lost the lock on ref {name!r}; retry")
                    tmp.replace(path)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        tmp.unlink()
                _fsync_dir(path.parent)
                return True

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        """Under the ref's lock: re-read, compare tokens, unlink, fsync; prune empty dirs."""
        path = self._path(name)
        if self._load(name, path) is None:
            return False
        with _os_errors(f"cannot delete ref {name!r} under {self.root}"):
            with self._lock(path):
                current = self._load(name, path)
                if current is None or _token(current) != expected:
                    return False
                path.unlink()
                _fsync_dir(path.parent)
            self._prune(path.parent)
        return True

    def _path(self, name: str) -> Path:
        return self.refs_dir / check_ref_name(name)

    def _lock(self, path: Path) -> LockFile:
        from flowpack.backends.local.lockfile import LockFile  # only ref updates lock

        return LockFile(
            path.with_name(path.name + ".lock"),
            timeout=self.lock_timeout,
            stale_after=self.stale_after,
            breaker=self.refs_dir / BREAKER_NAME,
        )

    def _load(self, name: str, path: Path) -> bytes | None:
        try:
            with open(path, "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise _translate(exc, f"cannot read ref {name!r} under {self.root}") from exc

    def _make_parents(self, name: str, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidRefName(
                f"cannot create ref {name!r}: a ref is named like one of its parent directories"
            ) from exc

    def _clear_empty_dir(self, name: str, path: Path) -> None:
        """Remove an empty directory left where the ref goes; refuse a non-empty one."""
        if not path.is_dir():
            return
        try:
            path.rmdir()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise InvalidRefName(
                f"cannot create ref {name!r}: refs named {name}/... exist"
            ) from exc

    def _prune(self, directory: Path) -> None:
        """Remove now-empty parent directories up to ``refs/``, best effort."""
        while directory != self.refs_dir and self.refs_dir in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def _walk(self, directory: Path, rel: str, prefix: str) -> Iterator[tuple[str, Digest]]:
        for entry in _listing(directory, f"cannot list refs under {self.root}"):
            name = f"{rel}/{entry.name}" if rel else entry.name
            if not _is_ref_name(name):  # lock, temp and broken-lock files
                continue
            if entry.is_dir(follow_symlinks=False):
                below = name + "/"
                if below.startswith(prefix) or prefix.startswith(below):
                    yield from self._walk(Path(entry.path), name, prefix)
            elif name.startswith(prefix):
                data = self._load(name, Path(entry.path))
                if data is not None:
                    yield name, decode_ref_value(data, name)


def _is_key(key: str) -> bool:
    try:
        check_blob_key(key)
    except UsageError:
        return False
    return True


def _is_ref_name(name: str) -> bool:
    try:
        check_ref_name(name)
    except UsageError:
        return False
    return True


def _token(data: bytes) -> Token:
    return Digest.of(data).hex[:32]


def _link_new(tmp: Path, path: Path, key: str) -> None:
    """Publish ``tmp`` at ``path`` only if nothing is there (atomic create-only)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise AlreadyExists(f"blob {key!r} already exists") from None
    except OSError as exc:
        if exc.errno in _NO_HARD_LINKS:
            raise BackendError(
                f"cannot store blob {key!r}: the file system under {path.parent} does not"
                " support hard links, which atomic create-only writes need"
            ) from exc
        raise


def _write_temp(directory: Path, data: bytes, prefix: str = ".tmp-") -> Path:
    """Write ``data`` to a new hidden file in ``directory`` and fsync it."""
    tmp = directory / f"{prefix}{uuid.uuid4().hex}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    return tmp


def _fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable (a no-op where unsupported)."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY | _O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on directories
            os.fsync(fd)
    finally:
        os.close(fd)


def _translate(exc: OSError, what: str, missing: str | None = None) -> FlowpackError:
    """The flowpack error for an ``OSError`` raised while doing ``what``.

    With ``missing``, an absent file or directory is :class:`NotFound` with that message.
    """
    detail = f"{what}: {exc.strerror or exc}"
    absent = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
    if missing is not None and isinstance(exc, absent):
        return NotFound(missing)
    if isinstance(exc, PermissionError):
        return PermissionDenied(detail)
    if exc.errno in _TRANSIENT:
        return TransientBackendError(detail)
    return BackendError(detail)


@contextlib.contextmanager
def _os_errors(what: str, missing: str | None = None) -> Iterator[None]:
    """Translate ``OSError`` (other than flowpack's own) raised inside the block."""
    try:
        yield
    except FlowpackError:
        raise
    except OSError as exc:
        raise _translate(exc, what, missing) from exc


def _listing(directory: Path, failure: str) -> list[os.DirEntry[str]]:
    """The entries of ``directory`` sorted by name; none when it is missing or not a
    directory; any other failure is translated with ``failure`` as its message."""
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise _translate(exc, failure) from exc
