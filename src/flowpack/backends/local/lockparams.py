"""The lock file's defaults, apart from :mod:`flowpack.backends.local.lockfile` so that a local
store opened for reading does not import the locking code (only ref updates take the lock)."""

from __future__ import annotations

#: How long a lock from another host (or an unreadable one) must be untouched to be stale.
DEFAULT_STALE_AFTER = 600.0
#: How long :meth:`LockFile.acquire` waits for a live holder before giving up.
DEFAULT_TIMEOUT = 10.0
BREAKER_NAME = ".flowpack-lock-breaker"
