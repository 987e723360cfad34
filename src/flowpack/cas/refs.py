"""Ref operations on top of a :class:`RefStore`: digest-level compare-and-set with clear errors.

The location's capabilities are obeyed as :mod:`flowpack.cas.guards` describes: a read-only
location refuses every update before any request, and where compare-and-set is not atomic
every update is read back and verified (with a warning, once per :class:`Refs`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from flowpack.cas.digest import Digest
from flowpack.cas.errors import NotFound, RefConflict
from flowpack.cas.guards import refuse_write
from flowpack.cas.protocols import RefStore, Token
from flowpack.cas.refname import check_ref_name

if TYPE_CHECKING:
    import logging

MAX_FORCE_TRIES = 64


class Refs:
    """Named pointers at digests.  Every change is a compare-and-set.  Thread-safe.

    ``where`` (a redacted URL) names the location in refusals and warnings.
    """

    def __init__(self, store: RefStore, *, where: str = "") -> None:
        self.backend = store
        self.where = where
        self._seen: dict[str, tuple[Digest, Token]] = {}
        self._warned = False
        self._warn_lock = threading.Lock()

    def _refuse_write(self, what: str) -> None:
        refuse_write(self.backend.capabilities, what, self.where)

    def _write(self, name: str, new: Digest, token: Token | None) -> bool:
        """One compare-and-set request; where it is not atomic, the ref is read back after it.

        Raises :class:`RefConflict` naming the current value when the read-back value is not
        ``new``: a concurrent update overwrote this one.
        """
        if not self.backend.compare_and_set(name, new, token):
            return False
        if self.backend.capabilities.atomic_cas:
            return True
        self._warn_not_atomic()
        cur = self.backend.read(name)
        if cur is None or cur[0] != new:
            now = str(cur[0]) if cur else "nothing (absent)"
            raise RefConflict(
                f"ref {name!r} was changed by a concurrent update: it now points at {now},"
                f" not {new} (the location has no atomic compare-and-set)",
                cur[0] if cur else None,
            )
        return True

    def _warn_not_atomic(self) -> None:
        with self._warn_lock:
            if self._warned:
                return
            self._warned = True
        _log().warning(
            "%s has no atomic compare-and-set: a concurrent update of a ref can be lost;"
            " each update is read back and verified",
            self.where or "the location",
        )

    def get(self, name: str) -> Digest | None:
        """The digest ``name`` points at, or None."""
        cur = self.read(name)
        return cur[0] if cur else None

    def read(self, name: str) -> tuple[Digest, Token] | None:
        """The current value and token; the token is remembered for a following
        :meth:`compare_and_set` (a stale one only makes that re-read)."""
        cur = self.backend.read(check_ref_name(name))
        if cur is not None:
            self._seen[name] = cur
        else:
            self._seen.pop(name, None)
        return cur

    def require(self, name: str) -> Digest:
        """The digest ``name`` points at; :class:`NotFound` if there is no such ref."""
        d = self.get(name)
        if d is None:
            raise NotFound(f"no ref named {name!r}")
        return d

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        """Every ref whose name starts with ``prefix``, with its value (no order promised)."""
        return self.backend.iter_refs(prefix)

    def compare_and_set(self, name: str, new: Digest, expected: Digest | None) -> bool:
        """Point ``name`` at ``new`` if it points at ``expected`` (None: must not exist)."""
        check_ref_name(name)
        self._refuse_write(f"set ref {name!r}")
        seen = self._seen.get(name)
        if expected is None or (seen is not None and seen[0] == expected):
            # one request when the value is as last read (or must be absent)
            token = seen[1] if expected is not None and seen is not None else None
            if self._write(name, new, token):
                self._seen.pop(name, None)
                return True
            if expected is None:
                return False
        cur = self.read(name)
        if (cur[0] if cur else None) != expected:
            return False
        if self._write(name, new, cur[1] if cur else None):
            self._seen.pop(name, None)
            return True
        return False

    def update(
        self, name: str, new: Digest, *, expected: Digest | None = None, create: bool = False
    ) -> None:
        """Set ``name``: with ``expected`` (or ``create``) as a compare-and-set, else forcibly.

        Raises :class:`RefConflict` (exit code 3) naming the current value on a lost race.
        """
        self._refuse_write(f"set ref {name!r}")
        if create or expected is not None:
            want = None if create else expected
            if not self.compare_and_set(name, new, want):
                raise _conflict(name, self.get(name), want)
            return
        for _ in range(MAX_FORCE_TRIES):
            cur = self.backend.read(check_ref_name(name))
            if cur and cur[0] == new:
                return
            if self._write(name, new, cur[1] if cur else None):
                return
        raise RefConflict(f"ref {name!r} kept changing; gave up after {MAX_FORCE_TRIES} tries")

    def delete(self, name: str, *, expected: Digest | None = None) -> None:
        """Remove ``name`` (only if it points at ``expected``, when given)."""
        self._refuse_write(f"delete ref {name!r}")
        for _ in range(MAX_FORCE_TRIES):
            cur = self.backend.read(check_ref_name(name))
            if cur is None:
                raise NotFound(f"no ref named {name!r}")
            if expected is not None and cur[0] != expected:
                raise _conflict(name, cur[0], expected)
            if self.backend.compare_and_delete(name, cur[1]):
                return
            if expected is not None:
                raise _conflict(name, self.get(name), expected)
        raise RefConflict(f"ref {name!r} kept changing; gave up after {MAX_FORCE_TRIES} tries")


def _conflict(name: str, current: Digest | None, expected: Digest | None) -> RefConflict:
    now = str(current) if current else "nothing (absent)"
    want = str(expected) if expected else "absent"
    return RefConflict(f"ref {name!r} changed: expected {want}, it now points at {now}", current)


def _log() -> logging.Logger:
    """The module's logger (``logging`` is imported on the first warning: a read starts
    faster without it)."""
    import logging

    return logging.getLogger("flowpack.cas")
