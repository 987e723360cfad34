"""Whether an endpoint honours conditional writes: the probe, and the memo of its answers.

Some S3-compatible servers and emulators accept ``If-Match`` and ``If-None-Match`` and ignore
them, which would silently turn every compare-and-set into last-writer-wins.  The probe
(:meth:`~flowpack.backends.bucket.ops.BucketOps.probe`) is a single write carrying a
precondition that can never hold, to a hidden key; an endpoint that honours preconditions
refuses it and nothing is written.

Where an answer is kept, and for how long (the memo's scope, stated once):

- **in memory**, in a :class:`ProbeMemo` that belongs to one bucket *session*
  (:mod:`flowpack.backends.bucket.sessions`): the locations opened with the same arguments,
  so on the same endpoint with the same credentials, share it while any of them is open, and
  it is dropped with the session when the last of them closes.  There is no other in-process
  memo: a location opened after every earlier one on its endpoint was closed probes afresh
  (unless the disk remembers a positive answer).
- **on disk**, a *positive* answer only, per ``(scheme, endpoint, bucket)``: an empty file
  under the memo's directory (by default ``<cache>/probes``, see
  :func:`flowpack.cas.paths.default_cache_dir`), trusted for :data:`PROBE_TTL`, so a short
  command (``flowpack register``) does not spend a request on it every time.  A negative
  answer is never written to disk: the next session probes again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path

from flowpack.cas.paths import default_cache_dir

__all__ = ["PROBE_TTL", "PreconditionCheck", "ProbeMemo"]

log = logging.getLogger("flowpack.backends")

#: How long a positive answer kept on disk is trusted, in seconds.
PROBE_TTL = 24 * 3600.0


class ProbeMemo:
    """The probe answers of one session, by ``(scheme, endpoint, bucket)`` identity; positive
    ones also kept on disk under ``directory`` (default ``<cache>/probes``, looked up when
    first needed).  See the module docstring for the scope.  Thread-safe.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._answers: dict[Hashable, bool] = {}
        self._lock = threading.Lock()

    def known(self, identity: Hashable) -> bool | None:
        """The answer this session found for ``identity``, or None if it has not probed it."""
        with self._lock:
            return self._answers.get(identity)

    def settle(self, identity: Hashable, ok: bool) -> bool:
        """Record ``ok`` unless an answer is already known; True if this call recorded it.
        A positive answer is also written to disk (a failure to write only costs a probe)."""
        with self._lock:
            if identity in self._answers:
                return False
            self._answers[identity] = ok
        if ok:
            self._touch(identity)
        return True

    def remembered(self, identity: Hashable) -> bool:
        """Whether the disk holds a positive answer for ``identity`` younger than the TTL."""
        try:
            return time.time() - self._file(identity).stat().st_mtime < PROBE_TTL
        except OSError:
            return False

    def _file(self, identity: Hashable) -> Path:
        directory = self._directory or default_cache_dir() / "probes"
        return directory / hashlib.sha256(repr(identity).encode()).hexdigest()

    def _touch(self, identity: Hashable) -> None:
        path = self._file(identity)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError:
            pass  # only costs a probe next time


class PreconditionCheck:
    """Whether the endpoint behind ``identity`` honours conditional writes, probed once.

    ``identity`` names the scheme, endpoint and bucket; the answer is kept in ``memo`` (shared
    by the locations of one session, see the module docstring).  :meth:`honoured` runs
    ``probe`` on first call unless the memo knows the answer (errors propagate and the probe
    runs again next time); when the probe finds preconditions ignored it logs one warning line
    naming ``where``, once per memo.  Thread-safe.
    """

    def __init__(
        self, identity: Hashable, where: str, probe: Callable[[], bool], memo: ProbeMemo
    ) -> None:
        self.identity = identity
        self.where = where
        self._probe = probe
        self._memo = memo

    def known(self) -> bool | None:
        """The probe's answer, or None if no location of this session has probed yet."""
        return self._memo.known(self.identity)

    def honoured(self) -> bool:
        """Probe on first use; True when the endpoint refuses a write whose precondition fails."""
        found = self.known()
        if found is not None:
            return found
        ok = self._memo.remembered(self.identity) or self._probe()
        first = self._memo.settle(self.identity, ok)
        if first and not ok:
            log.warning(
                "%s ignores conditional writes (If-Match / If-None-Match): ref updates there "
                "are not atomic, and concurrent writers may overwrite each other",
                self.where,
            )
        found = self.known()
        return ok if found is None else found
