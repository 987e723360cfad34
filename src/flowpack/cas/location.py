"""`Location`: one opened place where a store lives, the single door every caller goes through.

A location holds the place's :class:`~flowpack.cas.protocols.BlobStore`, its
:class:`~flowpack.cas.protocols.RefStore`, their declared
:class:`~flowpack.cas.protocols.Capabilities`, and what must be released when the caller is done
(SDK sessions, connection pools, temporary clones).  It is opened from a URL by
:func:`flowpack.cas.registry.open_location`, which finds the adapter family by the URL's scheme,
and closed by :meth:`Location.close` (or by leaving a ``with`` block).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flowpack.cas.protocols import BlobStore, Capabilities, RefStore

__all__ = ["Location", "refuse_options"]


@dataclass(eq=False)
class Location:
    """The blob and ref stores of one place, opened together.

    ``url`` is the location's URL with secrets redacted (safe to print).  ``closers`` run once,
    in reverse order, on :meth:`close`; closing twice is harmless.  ``identity`` tells this
    place apart from another reached by the same URL (a bucket URL resolved against another
    endpoint); local caches are keyed by it (default: ``url``).  Thread-safe.
    """

    url: str
    blobs: BlobStore
    refs: RefStore
    closers: list[Callable[[], None]] = field(default_factory=list)
    identity: str = ""
    _closed: bool = field(default=False, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def capabilities(self) -> Capabilities:
        """What the place guarantees (the blob store's declaration, which the ref store shares)."""
        return self.blobs.capabilities

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` when the location is closed."""
        with self._lock:
            self.closers.append(closer)

    def close(self) -> None:
        """Release what the location holds; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            closers, self.closers = list(reversed(self.closers)), []
        for closer in closers:
            closer()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Location:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def refuse_options(scheme: str, options: dict[str, object]) -> None:
    """Raise :class:`UsageError` naming ``options`` when a ``scheme`` opener takes none."""
    if options:
        from flowpack.cas.errors import UsageError

        raise UsageError(f"{scheme}:// stores take no options (got {', '.join(sorted(options))})")
