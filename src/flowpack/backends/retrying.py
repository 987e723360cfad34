"""Retrying transient backend failures: wrappers with the same interface as what they wrap.

Only :class:`~flowpack.cas.errors.TransientBackendError` is retried (timeouts, connection
failures, HTTP 408/429/5xx); every other error passes through at once.  Attempts are bounded by
:attr:`RetryPolicy.attempts` and by :attr:`RetryPolicy.deadline` seconds, with exponential
backoff and full jitter between them; when the bound is reached the last error is raised again
with how many attempts were made.  The adapters switch their SDK's own retry loops off, so this
is the only place that retries and the bound is the one written here.

A retried write may already have been applied when its response was lost:

- ``put(create_only=True)`` then raises :class:`AlreadyExists`, which callers writing
  content-addressed keys treat as success;
- ``compare_and_set`` then finds its precondition stale; when the ref already holds the value
  being written, the write is taken as done and True is returned;
- ``compare_and_delete`` likewise returns True when the ref is already gone.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from flowpack.cas.digest import Digest
from flowpack.cas.errors import TransientBackendError, UsageError
from flowpack.cas.protocols import BlobInfo, BlobStore, Capabilities, RefStore, Token

__all__ = ["RetryPolicy", "RetryingBlobStore", "RetryingRefStore"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.  ``attempts`` counts the first try."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 4.0
    deadline: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0 or self.deadline <= 0:
            raise UsageError(f"invalid retry policy {self}")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): full jitter."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (retry - 1)))

    def run(self, fn: Callable[[], T], *, on_retry: Callable[[], None] | None = None) -> T:
        """Call ``fn`` until it does not raise :class:`TransientBackendError`, within bounds."""
        start = time.monotonic()
        attempt = 1
        while True:
            try:
                return fn()
            except TransientBackendError as exc:
                pause = self.delay(attempt)
                elapsed = time.monotonic() - start
                if attempt >= self.attempts or elapsed + pause > self.deadline:
                    raise TransientBackendError(
                        f"{exc} (gave up after {attempt} attempt{'s' * (attempt > 1)}"
                        f" in {elapsed:.1f}s)"
                    ) from exc
                time.sleep(pause)
                attempt += 1
                if on_retry is not None:
                    on_retry()


class RetryingBlobStore:
    """A :class:`BlobStore` that retries the transient failures of ``inner``."""

    def __init__(self, inner: BlobStore, policy: RetryPolicy) -> None:
        self.inner = inner
        self.policy = policy

    @property
    def capabilities(self) -> Capabilities:
        """Those of ``inner``."""
        return self.inner.capabilities

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        """``inner.put``, retried; see the module docstring for a retried create."""
        self.policy.run(lambda: self.inner.put(key, data, create_only=create_only))

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """``inner.get``, retried."""
        return self.policy.run(lambda: self.inner.get(key, offset, length))

    def stat(self, key: str) -> BlobInfo:
        """``inner.stat``, retried."""
        return self.policy.run(lambda: self.inner.stat(key))

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        """The whole listing of ``inner``, taken (and retried) before the first item is given."""
        return iter(self.policy.run(lambda: list(self.inner.iter_keys(prefix))))

    def delete(self, key: str) -> None:
        """``inner.delete``, retried (deleting is idempotent)."""
        self.policy.run(lambda: self.inner.delete(key))


class RetryingRefStore:
    """A :class:`RefStore` that retries the transient failures of ``inner``."""

    def __init__(self, inner: RefStore, policy: RetryPolicy) -> None:
        self.inner = inner
        self.policy = policy

    @property
    def capabilities(self) -> Capabilities:
        """Those of ``inner``."""
        return self.inner.capabilities

    def read(self, name: str) -> tuple[Digest, Token] | None:
        """``inner.read``, retried."""
        return self.policy.run(lambda: self.inner.read(name))

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        """The whole listing of ``inner``, taken (and retried) before the first item is given."""
        return iter(self.policy.run(lambda: list(self.inner.iter_refs(prefix))))

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        """``inner.compare_and_set``, retried; a write applied before a lost response counts."""
        retried = False

        def mark() -> None:
            nonlocal retried
            retried = True

        done = self.policy.run(
            lambda: self.inner.compare_and_set(name, new, expected), on_retry=mark
        )
        if done or not retried:
            return done
        now = self.read(name)
        return now is not None and now[0] == new and now[1] != expected

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        """``inner.compare_and_delete``, retried; a delete applied before a lost response counts."""
        retried = False

        def mark() -> None:
            nonlocal retried
            retried = True

        done = self.policy.run(lambda: self.inner.compare_and_delete(name, expected), on_retry=mark)
        if done or not retried:
            return done
        return self.read(name) is None
