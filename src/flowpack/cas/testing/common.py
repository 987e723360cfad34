"""Shared pieces of the conformance suites: bad names, a thread race, an error guard."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from flowpack.cas.errors import (
    FlowpackError,
)

MIB = 1 << 20
R = TypeVar("R")

INVALID_KEYS = ["", "/abs", "../up", "a/../b", "a//b", "a/", "./a", "a/./b", "a/..", "a\\b", "a b"]
INVALID_PREFIXES = ["/abs", "../", "a/../", "a//"]
INVALID_REF_NAMES = [
    "",
    "/abs",
    "a/",
    "a//b",
    "../a",
    "a/../b",
    "a/./b",
    ".hidden",
    "-dash",
    "a b",
    "a.lock",
    "x/y.lock",
    "a\\b",
]


def race(n: int, fn: Callable[[int], R]) -> list[R | BaseException]:
    """Run ``fn(0) .. fn(n - 1)`` in ``n`` threads released together; results or exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> R | BaseException:
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


class OnlyFlowpackErrors:
    """A proxy for a store that fails the test when a call raises anything but a FlowpackError.

    The suites run every call through it, so no vendor exception can leak unnoticed (also from
    the iterators ``iter_keys`` and ``iter_refs`` return).
    """

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attr(*args, **kwargs)
            except Exception as exc:
                self._check(name, exc)
                raise
            return self._iterate(name, result) if isinstance(result, Iterator) else result

        return call

    def _iterate(self, name: str, it: Iterator[Any]) -> Iterator[Any]:
        try:
            yield from it
        except Exception as exc:
            self._check(name, exc)
            raise

    def _check(self, name: str, exc: Exception) -> None:
        if not isinstance(exc, FlowpackError):
            kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
            pytest.fail(f"{type(self._inner).__name__}.{name} leaked {kind}: {exc}")
