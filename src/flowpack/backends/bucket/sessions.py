"""Bucket sessions: the fsspec filesystem (SDK session, connection pool) a location owns.

A filesystem is costly to build (credentials, a client, a pool of connections), so locations
opened in this process with the same arguments share one: :meth:`SessionPool.acquire` returns
a :class:`Lease` on the shared :class:`Session`, counted, and the location releases its lease
when it closes (:meth:`flowpack.cas.location.Location.close`).  When the last lease on a session
is released, the session's ``close`` runs (the SDK's sessions and sockets are closed) and the
session, with its probe memo (:mod:`flowpack.backends.bucket.probe`), is forgotten; the next
open builds a new one.  A location that is never closed keeps its session open until the
process ends.

"The same arguments" means the same filesystem factory, keyword arguments, process id and
values of the environment variables the SDK reads when it is built (``env_prefixes``): the
SDKs take credentials and endpoints from the environment, so a changed variable is a new
session.  :data:`SESSIONS` is the process's pool; everything here is thread-safe.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowpack.backends.bucket.probe import ProbeMemo

__all__ = ["SESSIONS", "Lease", "Session", "SessionPool"]

log = logging.getLogger("flowpack.backends")


@dataclass(eq=False)
class Session:
    """One shared filesystem, what closes it, its probe memo, and how many leases hold it."""

    fs: Any
    close: Callable[[Any], None]
    memo: ProbeMemo = field(default_factory=ProbeMemo)
    leases: int = 0


@dataclass(eq=False)
class Lease:
    """One location's hold on a :class:`Session`; :meth:`release` is idempotent."""

    session: Session
    _pool: SessionPool
    _key: str
    _released: bool = False

    @property
    def fs(self) -> Any:
        return self.session.fs

    @property
    def memo(self) -> ProbeMemo:
        return self.session.memo

    def release(self) -> None:
        """Give the session back; the last release closes it."""
        self._pool._release(self)


class SessionPool:
    """Filesystems shared by the locations opened with the same arguments, counted."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def acquire(
        self,
        make: Callable[..., Any],
        kwargs: Mapping[str, Any],
        env_prefixes: Collection[str],
        close: Callable[[Any], None],
    ) -> Lease:
        """A lease on the session built by ``make(**kwargs)``, building it on first use.

        ``close(fs)`` runs when the last lease is released.  Whatever ``make`` raises
        propagates, and nothing is kept.
        """
        key = _key(make, kwargs, env_prefixes)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = Session(make(**kwargs), close)
            session.leases += 1
            return Lease(session, self, key)

    def open_sessions(self) -> int:
        """How many sessions are open (held by at least one unreleased lease)."""
        with self._lock:
            return len(self._sessions)

    def _release(self, lease: Lease) -> None:
        with self._lock:
            if lease._released:
                return
            lease._released = True
            session = lease.session
            session.leases -= 1
            if session.leases > 0:
                return
            if self._sessions.get(lease._key) is session:
                del self._sessions[lease._key]
        try:
            session.close(session.fs)
        except Exception as exc:  # closing is best effort: the process may be shutting down
            log.debug("closing a bucket session failed: %s", type(exc).__name__)


def _key(make: Callable[..., Any], kwargs: Mapping[str, Any], env_prefixes: Collection[str]) -> str:
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(tuple(env_prefixes)))
    text = repr((getattr(make, "__qualname__", make), os.getpid(), sorted(kwargs.items()), env))
    return hashlib.sha256(text.encode()).hexdigest()


#: The process's pool of bucket sessions.
SESSIONS = SessionPool()
