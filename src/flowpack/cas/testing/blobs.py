"""The conformance suite every :class:`BlobStore` adapter's tests subclass."""

from __future__ import annotations

import os
import threading
from typing import cast

import pytest

from flowpack.cas.errors import (
    AlreadyExists,
    NotFound,
    UsageError,
)
from flowpack.cas.protocols import BlobInfo, BlobStore, Capabilities
from flowpack.cas.testing.common import (
    INVALID_KEYS,
    INVALID_PREFIXES,
    MIB,
    OnlyFlowpackErrors,
    race,
)


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
