"""memory:// passes the shared suites; named stores are shared within the process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from flowpack.backends.memory import MemoryBlobStore, MemoryRefStore, open_memory
from flowpack.cas.digest import Digest
from flowpack.cas.errors import UsageError
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.registry import open_location
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance


class TestMemoryBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self) -> BlobStore:
        return MemoryBlobStore()


class TestMemoryRefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self) -> RefStore:
        return MemoryRefStore()

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        assert isinstance(store, MemoryRefStore)
        value, token = store._refs[name]
        store._refs[name] = (value.replace(b"blake3:", b"blake3:f", 1)[:-2] + b"\n", token)


class TestMemoryLocationBlobs(BlobStoreConformance):
    """The recipe of :mod:`flowpack.backends`: the suite through the one door."""

    @pytest.fixture
    def blob_store(self) -> Iterator[BlobStore]:
        with open_location("memory://") as location:
            yield location.blobs


def test_named_stores_share_state() -> None:
    url = f"memory://{uuid.uuid4().hex}"
    location = open_memory(url)
    blobs1, refs1 = location.blobs, location.refs
    location = open_memory(url)
    blobs2, refs2 = location.blobs, location.refs
    assert blobs1 is blobs2 and refs1 is refs2
    blobs1.put("config", b"x")
    assert blobs2.get("config") == b"x"
    assert refs1.compare_and_set("tags/t", Digest.of(b"x"), None)
    assert refs2.read("tags/t") is not None


def test_unnamed_stores_are_private() -> None:
    blobs1 = open_memory("memory://").blobs
    blobs2 = open_memory("memory://").blobs
    blobs1.put("config", b"x")
    assert list(blobs2.iter_keys()) == []


def test_different_names_are_separate() -> None:
    a = open_memory(f"memory://{uuid.uuid4().hex}").blobs
    b = open_memory(f"memory://{uuid.uuid4().hex}").blobs
    a.put("config", b"x")
    assert list(b.iter_keys()) == []


def test_capabilities_are_not_durable() -> None:
    location = open_memory("memory://")
    blobs, refs = location.blobs, location.refs
    assert blobs.capabilities.durable is False
    assert refs.capabilities.durable is False


def test_other_schemes_are_rejected() -> None:
    with pytest.raises(UsageError):
        open_memory("file:///tmp/x")
