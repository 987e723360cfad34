"""Lock files: mutual exclusion between threads, processes and hosts sharing a directory.

A :class:`LockFile` is held by creating ``path`` with ``O_CREAT | O_EXCL`` (atomic on local
file systems and on NFSv3+), and the file records its owner as JSON: pid, host identity
(hostname, boot id, pid namespace), process start time, wall time and a random nonce.

A lock is *stale*, and may be broken, only when

- its owner is on this host (same hostname, boot id and pid namespace) and that process is gone
  (``os.kill(pid, 0)`` raises :class:`ProcessLookupError`, or the pid is a zombie or now names a
  process started at another time); or
- its owner is on another host, or the file cannot be parsed (a writer still filling it in, a
  crash), and it is older than ``stale_after`` (ten minutes by default).

A lock held by a live process on this host is never broken, however old it is.

Breaking is serialised so that two recoverers cannot both win: a breaker takes a process-wide
mutex and a kernel record lock (``fcntl.lockf``, which the kernel drops if the breaker dies, so
it can never go stale itself) on a *breaker file* shared by all locks of one store (by default
``.flowpack-lock-breaker`` beside the lock), re-reads the lock, and only if
it is still the very stale lock it judged (same inode and bytes, still stale) renames it to a
unique hidden name, checks the renamed file is that lock, and deletes it.  A lock created after
the stale one was broken is therefore never removed by a late breaker.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from flowpack.backends.local.lockparams import BREAKER_NAME, DEFAULT_STALE_AFTER, DEFAULT_TIMEOUT
from flowpack.cas.errors import TransientBackendError

if TYPE_CHECKING:
    import logging

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LockFile", "LockOwner"]


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_breaker_mutex = threading.Lock()


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock: enough to tell, from this host, whether the holder is still alive."""

    pid: int
    host: str
    boot: str
    pidns: str
    start: str
    time: float
    nonce: str

    @classmethod
    def current(cls) -> LockOwner:
        """An owner record for the calling process, with a fresh nonce."""
        host, boot, pidns = _host_identity()
        pid = os.getpid()
        return cls(pid, host, boot, pidns, _start_time(pid), time.time(), uuid.uuid4().hex)

    def encode(self) -> bytes:
        """The JSON bytes stored in the lock file."""
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8") + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> LockOwner | None:
        """Parse lock file bytes; None if they are not a complete owner record."""
        try:
            raw = json.loads(data.decode("utf-8"))
            owner = cls(
                pid=raw["pid"],
                host=raw["host"],
                boot=raw["boot"],
                pidns=raw["pidns"],
                start=raw["start"],
                time=float(raw["time"]),
                nonce=raw["nonce"],
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        if not isinstance(owner.pid, int) or owner.pid <= 0:
            return None
        if not all(isinstance(v, str) for v in (owner.host, owner.boot, owner.pidns, owner.start)):
            return None
        return owner

    def on_this_host(self) -> bool:
        """Whether this owner's pid can be checked from here (same host, boot and namespace)."""
        return (self.host, self.boot, self.pidns) == _host_identity()

    def describe(self) -> str:
        """``pid 123 on host`` for messages."""
        return f"pid {self.pid} on {self.host}"


@dataclass(frozen=True)
class _Seen:
    """A lock file as read at one moment."""

    inode: int
    data: bytes
    mtime: float

    @property
    def owner(self) -> LockOwner | None:
        return LockOwner.decode(self.data)


class LockFile:
    """An exclusive lock held by the existence of ``path``; use as a context manager.

    Not re-entrant.  :meth:`acquire` waits (with short jittered sleeps) while a live holder has
    the lock, breaks it only when it is stale (see the module docstring), and raises
    :class:`TransientBackendError` after ``timeout`` seconds.  Other :class:`OSError` are left
    to the caller to translate.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        stale_after: float = DEFAULT_STALE_AFTER,
        breaker: Path | None = None,
    ) -> None:
        self.path = path
        self.breaker = breaker if breaker is not None else path.parent / BREAKER_NAME
        self.timeout = timeout
        self.stale_after = stale_after
        self._owner: LockOwner | None = None

    def acquire(self) -> None:
        """Create the lock file, waiting for a live holder; creates missing parent dirs."""
        if self._owner is not None:
            raise RuntimeError(f"lock {self.path} is already held by this LockFile")
        deadline = time.monotonic() + self.timeout
        delay = 0.0005
        while True:
            owner = LockOwner.current()
            try:
                self._create(owner)
            except FileNotFoundError:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                retry_now = True
            except FileExistsError:
                retry_now = self._break_if_stale()
            else:
                self._owner = owner
                return
            if time.monotonic() >= deadline:
                raise TransientBackendError(self._timeout_message())
            if not retry_now:
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.05)

    def still_held(self) -> bool:
        """Whether the lock file on disk is still the one this object created."""
        if self._owner is None:
            return False
        seen = _read(self.path)
        return seen is not None and seen.owner == self._owner

    def release(self) -> None:
        """Delete the lock file if it is still ours; idempotent."""
        if self._owner is None:
            return
        held = self.still_held()
        self._owner = None
        if not held:
            _log().warning("lock %s was broken by another process while held", self.path)
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> LockFile:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _create(self, owner: LockOwner) -> None:
        """Create the lock file with its owner record in one step: the record is written to a
        private temp file that is then hard-linked to the lock's name (``FileExistsError`` if
        it exists).  A process killed at any moment never leaves an empty, unattributable lock.
        """
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{random.getrandbits(32):x}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o644)
        try:
            try:
                data = owner.encode()
                written = 0
                while written < len(data):
                    written += os.write(fd, data[written:])
            finally:
                os.close(fd)
            os.link(tmp, self.path)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _is_stale(self, seen: _Seen) -> bool:
        owner = seen.owner
        if owner is not None and owner.on_this_host():
            return not _process_alive(owner.pid, owner.start)
        newest = max(seen.mtime, owner.time if owner else 0.0)
        return time.time() - newest > self.stale_after

    def _break_if_stale(self) -> bool:
        """Remove the lock if stale; True when the caller should try to create it again now."""
        seen = _read(self.path)
        if seen is None:
            return True
        if not self._is_stale(seen):
            return False
        with _breaker_guard(self.breaker):
            again = _read(self.path)
            if again is None or (again.inode, again.data) != (seen.inode, seen.data):
                return True  # it changed under us: judge the new one afresh
            if not self._is_stale(again):
                return False
            grave = self.path.with_name(f".{self.path.name}.broken-{uuid.uuid4().hex}")
            try:
                self.path.rename(grave)
            except FileNotFoundError:
                return True
            try:
                if grave.stat().st_ino != again.inode:  # someone outside this protocol
                    with contextlib.suppress(FileExistsError):
                        os.link(grave, self.path)
                    return True
            finally:
                with contextlib.suppress(FileNotFoundError):
                    grave.unlink()
        holder = seen.owner.describe() if seen.owner else "an unknown owner"
        _log().warning("broke stale lock %s held by %s", self.path, holder)
        return True

    def _timeout_message(self) -> str:
        seen = _read(self.path)
        owner = seen.owner if seen else None
        holder = owner.describe() if owner else "another process"
        return (
            f"timed out after {self.timeout:g}s waiting for lock {self.path} held by {holder};"
            " if no flowpack process is running there, delete the lock file"
        )


def _read(path: Path) -> _Seen | None:
    """The lock file's inode, bytes and mtime; None if it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        chunks = []
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
            if sum(map(len, chunks)) > 65536:  # not one of ours
                break
        return _Seen(st.st_ino, b"".join(chunks), st.st_mtime)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _breaker_guard(path: Path) -> Iterator[None]:
    """Exclusive among breakers in all processes using the breaker file ``path``."""
    with _breaker_mutex:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _O_CLOEXEC, 0o644)
        try:
            if fcntl is not None:
                fcntl.lockf(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # drops the record lock


@lru_cache(maxsize=1)
def _host_identity() -> tuple[str, str, str]:
    """(hostname, boot id, pid namespace): equal only where pids mean the same processes."""
    boot = ""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    pidns = ""
    with contextlib.suppress(OSError, AttributeError):
        pidns = str(Path("/proc/self/ns/pid").readlink())
    return platform.node(), boot, pidns


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of ``pid`` from /proc; None where unavailable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def _start_time(pid: int) -> str:
    stat = _proc_stat(pid)
    return stat[1] if stat else ""


def _process_alive(pid: int, start: str) -> bool:
    """Whether ``pid`` on this host is still the process that took the lock (if unsure: yes)."""
    if os.name == "nt":  # os.kill would terminate it; no safe liveness probe
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    if state in ("Z", "X"):
        return False
    return not (start and started != start)


def _log() -> logging.Logger:
    """The module's logger (``logging`` is imported on the first warning: a read starts
    faster without it)."""
    import logging

    return logging.getLogger(__name__)
