"""gs:// against fake-gcs-server: the shared suites and the GCS specifics."""

from __future__ import annotations

import pytest

from flowpack.backends.bucket.gcs import open_gcs
from flowpack.cas.digest import Digest
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance
from servers.buckets import BucketServer, corrupt_ref


class TestGcsBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, fake_gcs_server: BucketServer) -> BlobStore:
        return open_gcs(fake_gcs_server.fresh_url()).blobs


class TestGcsRefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self, fake_gcs_server: BucketServer) -> RefStore:
        return open_gcs(fake_gcs_server.fresh_url()).refs

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        corrupt_ref(store, name)


def test_a_deleted_ref_is_a_tombstone_and_can_be_created_again(
    fake_gcs_server: BucketServer,
) -> None:
    refs = open_gcs(fake_gcs_server.fresh_url()).refs
    inner = refs.inner  # type: ignore[attr-defined]
    assert refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
    token = refs.read("flows/p/f")[1]  # type: ignore[index]
    assert token.isdigit()  # the object's generation
    assert refs.compare_and_delete("flows/p/f", token)
    raw = inner.ops._read_raw(inner.refs_prefix + "flows/p/f")
    assert raw is not None and raw[0] == b""  # the tombstone
    assert refs.read("flows/p/f") is None
    assert list(refs.iter_refs()) == []
    assert not refs.compare_and_delete("flows/p/f", token)
    assert not refs.compare_and_set("flows/p/f", Digest.of(b"2"), token)
    assert refs.compare_and_set("flows/p/f", Digest.of(b"2"), None)
    assert not refs.compare_and_set("flows/p/f", Digest.of(b"3"), None)
    assert refs.read("flows/p/f")[0] == Digest.of(b"2")  # type: ignore[index]


def test_a_stale_generation_is_refused(fake_gcs_server: BucketServer) -> None:
    refs = open_gcs(fake_gcs_server.fresh_url()).refs
    assert refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
    old = refs.read("flows/p/f")[1]  # type: ignore[index]
    assert refs.compare_and_set("flows/p/f", Digest.of(b"2"), old)
    assert not refs.compare_and_set("flows/p/f", Digest.of(b"3"), old)
    assert not refs.compare_and_delete("flows/p/f", old)
    assert refs.read("flows/p/f")[0] == Digest.of(b"2")  # type: ignore[index]
