"""What the bucket adapters need from each cloud service, and the check of its preconditions.

:class:`BucketOps` is the small set of single-object requests (conditional writes, reads with a
version token, one paginated listing) that each service module implements with the client its
fsspec filesystem already holds, so credentials and endpoints are configured once.  Its methods
raise the vendor's exceptions; the callers translate them at the edge
(:mod:`flowpack.backends.bucket.errors`).

:class:`PreconditionCheck` asks an endpoint, once per process and bucket, whether it honours
conditional writes: some S3-compatible servers and emulators accept ``If-Match`` and
``If-None-Match`` and ignore them, which would silently turn every compare-and-set into
last-writer-wins.  The probe is a single write carrying a precondition that can never hold, to a
hidden key; an endpoint that honours preconditions refuses it and nothing is written.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Protocol

from flowpack.cas.protocols import BlobInfo, Token

__all__ = ["PROBE_PREFIX", "BucketOps", "PreconditionCheck"]

log = logging.getLogger("flowpack.backends")

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


_results: dict[Hashable, bool] = {}
_results_lock = threading.Lock()


class PreconditionCheck:
    """Whether the endpoint behind ``identity`` honours conditional writes, probed once.

    ``identity`` names the endpoint and bucket; the answer is shared by every store of this
    process opened on them.  :meth:`honoured` runs ``probe`` on first call (errors propagate and
    the probe runs again next time); when the probe finds preconditions ignored it logs one
    warning line naming ``where``.
    """

    def __init__(self, identity: Hashable, where: str, probe: Callable[[], bool]) -> None:
        self.identity = identity
        self.where = where
        self._probe = probe

    def known(self) -> bool | None:
        """The probe's answer, or None if no store has probed this endpoint yet."""
        with _results_lock:
            return _results.get(self.identity)

    def honoured(self) -> bool:
        """Probe on first use; True when the endpoint refuses a write whose precondition fails."""
        found = self.known()
        if found is not None:
            return found
        ok = _remembered(self.identity) or self._probe()
        if ok:
            _remember(self.identity)
        with _results_lock:
            first = self.identity not in _results
            _results.setdefault(self.identity, ok)
        if first and not ok:
            log.warning(
                "%s ignores conditional writes (If-Match / If-None-Match): ref updates there "
                "are not atomic, and concurrent writers may overwrite each other",
                self.where,
            )
        return ok


#: A positive probe answer is kept on disk this long, so a short command (``flowpack register``)
#: does not spend a request on it every time; a negative answer is never kept.
PROBE_TTL = 24 * 3600.0


def _probe_file(identity: Hashable) -> Path:
    from flowpack.cas.opening import default_cache_dir

    name = hashlib.sha256(repr(identity).encode()).hexdigest()
    return default_cache_dir() / "probes" / name


def _remembered(identity: Hashable) -> bool:
    try:
        return time.time() - _probe_file(identity).stat().st_mtime < PROBE_TTL
    except OSError:
        return False


def _remember(identity: Hashable) -> None:
    path = _probe_file(identity)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:
        pass  # only costs a probe next time
