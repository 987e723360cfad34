"""The conformance suites every adapter's tests subclass: one suite, every backend.

An adapter is done when its test file is a few lines::

    class TestFooBlobStore(BlobStoreConformance):
        @pytest.fixture
        def blob_store(self, foo_server: str) -> BlobStore:
            return FooBlobStore(foo_server, prefix=uuid.uuid4().hex)   # fresh and empty


    class TestFooRefStore(RefStoreConformance):
        @pytest.fixture
        def ref_store(self, foo_server: str) -> RefStore:
            return FooRefStore(foo_server, prefix=uuid.uuid4().hex)

        def corrupt_ref(self, store: RefStore, name: str) -> None:
            ...  # overwrite the stored value of ``name`` with damaged bytes

The fixtures must return a *fresh, empty* store for every test.  The suites check the contracts
written in :mod:`flowpack.cas.protocols` and every claim in ``capabilities`` (a declared
``atomic_create`` or ``atomic_cas`` must survive a 16-thread race), and that every failure is a
:class:`~flowpack.cas.errors.FlowpackError`, never a vendor exception.  They use no key under
``refs/`` (an adapter may keep its refs there).  A behaviour the suites do not check belongs in
the suites, not in one adapter's tests.  This module imports pytest: import it only from tests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import pytest

from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    AlreadyExists,
    FlowpackError,
    InvalidRefName,
    MalformedData,
    NotFound,
    UsageError,
)
from flowpack.cas.protocols import BlobInfo, BlobStore, Capabilities, RefStore

__all__ = ["BlobStoreConformance", "OnlyFlowpackErrors", "RefStoreConformance", "race"]

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


def _keys(infos: list[BlobInfo]) -> list[str]:
    return sorted(info.key for info in infos)


class BlobStoreConformance:
    """Checks a :class:`BlobStore`; requires a ``blob_store`` fixture giving a fresh store."""

    race_threads = 16
    big_size = 4 * MIB + 1

    @pytest.fixture
    def blobs(self, blob_store: BlobStore) -> BlobStore:
        """The adapter's ``blob_store``, failing the test if it raises a non-flowpack error."""
        return cast(BlobStore, OnlyFlowpackErrors(blob_store))

    def test_implements_the_protocol(self, blob_store: BlobStore) -> None:
        assert isinstance(blob_store, BlobStore)
        caps = blob_store.capabilities
        assert isinstance(caps, Capabilities)
        assert caps.max_connections >= 1

    def test_new_store_is_empty(self, blobs: BlobStore) -> None:
        assert list(blobs.iter_keys()) == []

    def test_get_absent_raises_not_found(self, blobs: BlobStore) -> None:
        with pytest.raises(NotFound):
            blobs.get("absent/key")
        with pytest.raises(NotFound):
            blobs.get("absent/key", 5, 10)

    def test_stat_absent_raises_not_found(self, blobs: BlobStore) -> None:
        with pytest.raises(NotFound):
            blobs.stat("absent/key")

    def test_delete_absent_is_a_no_op(self, blobs: BlobStore) -> None:
        blobs.delete("absent/key")
        blobs.delete("absent/key")
        assert list(blobs.iter_keys()) == []

    @pytest.mark.parametrize("size", [0, 1, 4 * MIB + 1], ids=["empty", "one", "4MiB+1"])
    def test_put_then_get_round_trips(self, blobs: BlobStore, size: int) -> None:
        data = os.urandom(size)
        blobs.put("blobs/x", data)
        assert blobs.get("blobs/x") == data
        info = blobs.stat("blobs/x")
        assert (info.key, info.size) == ("blobs/x", size)
        assert [(i.key, i.size) for i in blobs.iter_keys()] == [("blobs/x", size)]

    def test_range_reads(self, blobs: BlobStore) -> None:
        data = os.urandom(1000)
        blobs.put("blobs/r", data)
        cases = [
            (0, None, data),
            (10, None, data[10:]),
            (10, 5, data[10:15]),
            (0, 0, b""),
            (995, 100, data[995:]),  # past the end: truncated, never padded
            (999, None, data[999:]),
            (1000, None, b""),
            (1000, 10, b""),
            (5000, 10, b""),
        ]
        for offset, length, expected in cases:
            assert blobs.get("blobs/r", offset, length) == expected, (offset, length)

    def test_range_reads_of_a_large_blob(self, blobs: BlobStore) -> None:
        data = os.urandom(self.big_size)
        blobs.put("blobs/big", data)
        assert blobs.get("blobs/big", MIB, 10) == data[MIB : MIB + 10]
        assert blobs.get("blobs/big", self.big_size - 1, 10) == data[-1:]
        assert blobs.get("blobs/big", 3, None) == data[3:]

    def test_negative_range_is_a_usage_error(self, blobs: BlobStore) -> None:
        blobs.put("blobs/n", b"abc")
        with pytest.raises(UsageError):
            blobs.get("blobs/n", -1)
        with pytest.raises(UsageError):
            blobs.get("blobs/n", 0, -1)

    def test_iter_keys_filters_by_prefix(self, blobs: BlobStore) -> None:
        for key in ["a/1", "a/2", "a/sub/3", "ab/4", "b/5", "top"]:
            blobs.put(key, key.encode())
        assert _keys(list(blobs.iter_keys("a/"))) == ["a/1", "a/2", "a/sub/3"]
        assert _keys(list(blobs.iter_keys("a"))) == ["a/1", "a/2", "a/sub/3", "ab/4"]
        assert _keys(list(blobs.iter_keys("a/s"))) == ["a/sub/3"]
        assert _keys(list(blobs.iter_keys("c"))) == []
        assert _keys(list(blobs.iter_keys())) == [
            "a/1",
            "a/2",
            "a/sub/3",
            "ab/4",
            "b/5",
            "top",
        ]

    def test_iter_keys_reports_sizes(self, blobs: BlobStore) -> None:
        sizes = {"s/0": 0, "s/1": 1, "s/100": 100}
        for key, size in sizes.items():
            blobs.put(key, os.urandom(size))
        assert {i.key: i.size for i in blobs.iter_keys("s/")} == sizes

    def test_create_only_is_the_default_and_keeps_the_original(self, blobs: BlobStore) -> None:
        blobs.put("blobs/c", b"first")
        with pytest.raises(AlreadyExists):
            blobs.put("blobs/c", b"second")
        with pytest.raises(AlreadyExists):
            blobs.put("blobs/c", b"third", create_only=True)
        assert blobs.get("blobs/c") == b"first"

    def test_overwrite_replaces(self, blobs: BlobStore) -> None:
        blobs.put("blobs/o", b"first")
        blobs.put("blobs/o", b"second, longer", create_only=False)
        assert blobs.get("blobs/o") == b"second, longer"
        blobs.put("blobs/o", b"3", create_only=False)
        assert blobs.get("blobs/o") == b"3"
        assert blobs.stat("blobs/o").size == 1
        blobs.put("blobs/new", b"x", create_only=False)  # overwrite also creates
        assert blobs.get("blobs/new") == b"x"

    def test_delete_removes_the_blob(self, blobs: BlobStore) -> None:
        blobs.put("blobs/d", b"data")
        blobs.put("blobs/keep", b"keep")
        blobs.delete("blobs/d")
        with pytest.raises(NotFound):
            blobs.get("blobs/d")
        with pytest.raises(NotFound):
            blobs.stat("blobs/d")
        assert _keys(list(blobs.iter_keys())) == ["blobs/keep"]
        blobs.delete("blobs/d")  # idempotent
        blobs.put("blobs/d", b"again")  # create-only works again
        assert blobs.get("blobs/d") == b"again"

    @pytest.mark.parametrize("key", INVALID_KEYS)
    def test_invalid_key_is_a_usage_error(self, blobs: BlobStore, key: str) -> None:
        with pytest.raises(UsageError):
            blobs.put(key, b"x")
        with pytest.raises(UsageError):
            blobs.get(key)
        with pytest.raises(UsageError):
            blobs.stat(key)
        with pytest.raises(UsageError):
            blobs.delete(key)
        assert list(blobs.iter_keys()) == []

    @pytest.mark.parametrize("prefix", INVALID_PREFIXES)
    def test_invalid_prefix_is_a_usage_error(self, blobs: BlobStore, prefix: str) -> None:
        with pytest.raises(UsageError):
            list(blobs.iter_keys(prefix))

    def test_concurrent_creates_have_one_winner(self, blobs: BlobStore) -> None:
        values = [os.urandom(64 * 1024) for _ in range(self.race_threads)]
        outcomes = race(self.race_threads, lambda i: blobs.put("race/one", values[i]))
        for outcome in outcomes:
            assert outcome is None or isinstance(outcome, AlreadyExists), repr(outcome)
        winners = [i for i, outcome in enumerate(outcomes) if outcome is None]
        stored = blobs.get("race/one")
        if blobs.capabilities.atomic_create:
            assert len(winners) == 1, f"atomic_create declared, but {len(winners)} creators won"
            assert stored == values[winners[0]]
        else:
            assert winners
            assert stored in [values[i] for i in winners]
        assert _keys(list(blobs.iter_keys())) == ["race/one"]

    def test_concurrent_overwrites_leave_one_whole_value(self, blobs: BlobStore) -> None:
        values = [os.urandom(256 * 1024) for _ in range(self.race_threads)]
        outcomes = race(
            self.race_threads,
            lambda i: blobs.put("race/many", values[i], create_only=False),
        )
        assert outcomes == [None] * self.race_threads
        assert blobs.get("race/many") in values
        assert _keys(list(blobs.iter_keys())) == ["race/many"]

    def test_readers_never_see_partial_blobs(self, blobs: BlobStore) -> None:
        writers, rounds = 4, 3
        written: dict[bytes, bytes] = {}
        for w in range(writers):
            for r in range(rounds):
                tag = f"{w:04d}{r:04d}".encode()
                written[tag] = tag + os.urandom(self.big_size - len(tag))
        done = threading.Event()
        problems: list[str] = []

        def write(w: int) -> None:
            for r in range(rounds):
                blobs.put("torn/blob", written[f"{w:04d}{r:04d}".encode()], create_only=False)

        def read() -> None:
            try:
                check()
            except Exception as exc:
                problems.append(f"reader failed: {exc!r}")

        def check() -> None:
            while not done.is_set():
                try:
                    got = blobs.get("torn/blob")
                except NotFound:
                    continue
                if written.get(got[:8]) != got:
                    problems.append(f"get returned {len(got)} bytes that no writer wrote whole")
                for info in blobs.iter_keys("torn"):
                    if (info.key, info.size) != ("torn/blob", self.big_size):
                        problems.append(f"listing showed {info}")

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        try:
            outcomes = race(writers, write)
        finally:
            done.set()
            for t in readers:
                t.join()
        assert outcomes == [None] * writers
        assert problems == []
        final = blobs.get("torn/blob")
        assert written[final[:8]] == final


class RefStoreConformance:
    """Checks a :class:`RefStore`; requires a ``ref_store`` fixture giving a fresh store.

    Override :meth:`corrupt_ref` to let the suite check that damaged values are detected.
    """

    race_threads = 16

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        """Overwrite the stored value of ``name`` with damaged bytes (subclasses implement).

        ``store`` is the object the ``ref_store`` fixture returned.
        """
        raise NotImplementedError

    @pytest.fixture
    def refs(self, ref_store: RefStore) -> RefStore:
        """The adapter's ``ref_store``, failing the test if it raises a non-flowpack error."""
        return cast(RefStore, OnlyFlowpackErrors(ref_store))

    def test_implements_the_protocol(self, ref_store: RefStore) -> None:
        assert isinstance(ref_store, RefStore)
        refs = ref_store
        caps = refs.capabilities
        assert isinstance(caps, Capabilities)
        assert caps.max_connections >= 1

    def test_new_store_is_empty(self, refs: RefStore) -> None:
        assert list(refs.iter_refs()) == []

    def test_read_absent_is_none(self, refs: RefStore) -> None:
        assert refs.read("flows/p/absent") is None

    def test_create_with_expected_none(self, refs: RefStore) -> None:
        d = Digest.of(os.urandom(32))
        assert refs.compare_and_set("flows/p/f", d, None) is True
        found = refs.read("flows/p/f")
        assert found is not None
        assert found[0] == d
        assert isinstance(found[1], str)

    def test_create_again_with_none_fails(self, refs: RefStore) -> None:
        d1, d2 = Digest.of(os.urandom(32)), Digest.of(os.urandom(32))
        assert refs.compare_and_set("tags/v1", d1, None)
        assert refs.compare_and_set("tags/v1", d2, None) is False
        assert _value(refs, "tags/v1") == d1

    def test_compare_and_set_with_current_token(self, refs: RefStore) -> None:
        d1, d2 = Digest.of(os.urandom(32)), Digest.of(os.urandom(64))
        assert refs.compare_and_set("flows/p/f", d1, None)
        token = _token(refs, "flows/p/f")
        assert refs.compare_and_set("flows/p/f", d2, token) is True
        assert _value(refs, "flows/p/f") == d2
        assert _token(refs, "flows/p/f") != token

    def test_compare_and_set_with_stale_token_fails(self, refs: RefStore) -> None:
        d1, d2, d3 = (Digest.of(os.urandom(32)) for _ in range(3))
        assert refs.compare_and_set("flows/p/f", d1, None)
        stale = _token(refs, "flows/p/f")
        assert refs.compare_and_set("flows/p/f", d2, stale)
        assert refs.compare_and_set("flows/p/f", d3, stale) is False
        assert _value(refs, "flows/p/f") == d2

    def test_compare_and_set_of_an_absent_ref_with_a_token_fails(self, refs: RefStore) -> None:
        d = Digest.of(os.urandom(32))
        assert refs.compare_and_set("flows/p/a", d, None)
        token = _token(refs, "flows/p/a")
        assert refs.compare_and_set("flows/p/b", d, token) is False
        assert refs.read("flows/p/b") is None

    def test_values_keep_their_size(self, refs: RefStore) -> None:
        for i, size in enumerate([0, 1, 1 << 40]):
            d = Digest(Digest.of(os.urandom(8)).hex, size)
            assert refs.compare_and_set(f"sizes/s{i}", d, None)
            assert _value(refs, f"sizes/s{i}") == d

    def test_compare_and_delete(self, refs: RefStore) -> None:
        d = Digest.of(os.urandom(32))
        assert refs.compare_and_set("runs/r", d, None)
        token = _token(refs, "runs/r")
        assert refs.compare_and_delete("runs/r", token) is True
        assert refs.read("runs/r") is None
        assert list(refs.iter_refs()) == []
        assert refs.compare_and_delete("runs/r", token) is False
        assert refs.compare_and_set("runs/r", d, None) is True  # can be created again
        assert _value(refs, "runs/r") == d

    def test_compare_and_delete_with_stale_token_fails(self, refs: RefStore) -> None:
        d1, d2 = Digest.of(os.urandom(32)), Digest.of(os.urandom(32))
        assert refs.compare_and_set("runs/r", d1, None)
        stale = _token(refs, "runs/r")
        assert refs.compare_and_set("runs/r", d2, stale)
        assert refs.compare_and_delete("runs/r", stale) is False
        assert _value(refs, "runs/r") == d2

    def test_compare_and_delete_of_an_absent_ref_is_false(self, refs: RefStore) -> None:
        d = Digest.of(os.urandom(32))
        assert refs.compare_and_set("runs/a", d, None)
        token = _token(refs, "runs/a")
        assert refs.compare_and_delete("runs/absent", token) is False

    def test_iter_refs_filters_by_prefix(self, refs: RefStore) -> None:
        names = ["flows/p/a", "flows/p/b", "flows/pq/c", "flows/q/d", "runs/x", "top"]
        digests = {n: Digest.of(os.urandom(32)) for n in names}
        for name, d in digests.items():
            assert refs.compare_and_set(name, d, None)
        assert sorted(refs.iter_refs("flows/p/")) == [
            ("flows/p/a", digests["flows/p/a"]),
            ("flows/p/b", digests["flows/p/b"]),
        ]
        assert [n for n, _ in sorted(refs.iter_refs("flows/p"))] == [
            "flows/p/a",
            "flows/p/b",
            "flows/pq/c",
        ]
        assert list(refs.iter_refs("nothing/")) == []
        assert sorted(refs.iter_refs()) == sorted(digests.items())

    @pytest.mark.parametrize("name", INVALID_REF_NAMES)
    def test_invalid_names_are_rejected(self, refs: RefStore, name: str) -> None:
        d = Digest.of(b"x")
        with pytest.raises(InvalidRefName):
            refs.read(name)
        with pytest.raises(InvalidRefName):
            refs.compare_and_set(name, d, None)
        with pytest.raises(InvalidRefName):
            refs.compare_and_delete(name, "token")
        assert list(refs.iter_refs()) == []

    def test_concurrent_compare_and_set_has_one_winner(self, refs: RefStore) -> None:
        assert refs.compare_and_set("race/ref", Digest.of(b"start"), None)
        token = _token(refs, "race/ref")
        news = [Digest.of(os.urandom(32)) for _ in range(self.race_threads)]
        outcomes = race(
            self.race_threads, lambda i: refs.compare_and_set("race/ref", news[i], token)
        )
        assert all(isinstance(o, bool) for o in outcomes), outcomes
        winners = [i for i, o in enumerate(outcomes) if o is True]
        if refs.capabilities.atomic_cas:
            assert len(winners) == 1, f"atomic_cas declared, but {len(winners)} writers won"
            assert _value(refs, "race/ref") == news[winners[0]]
        else:
            assert _value(refs, "race/ref") in [news[i] for i in winners]

    def test_concurrent_creates_have_one_winner(self, refs: RefStore) -> None:
        news = [Digest.of(os.urandom(32)) for _ in range(self.race_threads)]
        outcomes = race(
            self.race_threads, lambda i: refs.compare_and_set("race/new", news[i], None)
        )
        assert all(isinstance(o, bool) for o in outcomes), outcomes
        winners = [i for i, o in enumerate(outcomes) if o is True]
        if refs.capabilities.atomic_cas:
            assert len(winners) == 1, f"atomic_cas declared, but {len(winners)} creators won"
            assert _value(refs, "race/new") == news[winners[0]]
        else:
            assert _value(refs, "race/new") in [news[i] for i in winners]
        assert [n for n, _ in refs.iter_refs()] == ["race/new"]

    def test_concurrent_deletes_have_one_winner(self, refs: RefStore) -> None:
        assert refs.compare_and_set("race/del", Digest.of(b"x"), None)
        token = _token(refs, "race/del")
        outcomes = race(self.race_threads, lambda i: refs.compare_and_delete("race/del", token))
        assert all(isinstance(o, bool) for o in outcomes), outcomes
        if refs.capabilities.atomic_cas:
            assert outcomes.count(True) == 1
        assert refs.read("race/del") is None

    def test_damaged_value_raises_malformed_data(self, refs: RefStore, ref_store: RefStore) -> None:
        assert refs.compare_and_set("flows/p/bad", Digest.of(b"x"), None)
        try:
            self.corrupt_ref(ref_store, "flows/p/bad")
        except NotImplementedError:
            pytest.fail(
                f"{type(self).__name__} must implement corrupt_ref(store, name): every adapter"
                " shows that a damaged ref value is detected"
            )
        with pytest.raises(MalformedData):
            refs.read("flows/p/bad")
        with pytest.raises(MalformedData):
            list(refs.iter_refs())


def _token(store: RefStore, name: str) -> str:
    found = store.read(name)
    assert found is not None, f"ref {name!r} is missing"
    return found[1]


def _value(store: RefStore, name: str) -> Digest:
    found = store.read(name)
    assert found is not None, f"ref {name!r} is missing"
    return found[0]
