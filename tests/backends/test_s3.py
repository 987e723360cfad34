"""s3:// against moto server: the shared suites (with S3's 412 semantics in place of the races,
which moto does not make atomic), and what is particular to S3."""

from __future__ import annotations

import os

import pytest

from flowpack.backends.bucket.s3 import open_s3
from flowpack.cas.digest import Digest
from flowpack.cas.errors import AlreadyExists
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance
from servers.buckets import BucketServer, corrupt_ref


class TestS3BlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, moto_server: BucketServer) -> BlobStore:
        return open_s3(moto_server.fresh_url()).blobs

    def test_concurrent_creates_have_one_winner(self, blobs: BlobStore) -> None:
        """moto checks ``If-None-Match`` then writes, not atomically: here, one at a time."""
        values = [os.urandom(1000) for _ in range(4)]
        blobs.put("race/one", values[0])
        for value in values[1:]:
            with pytest.raises(AlreadyExists):
                blobs.put("race/one", value)
        assert blobs.get("race/one") == values[0]


class TestS3RefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self, moto_server: BucketServer) -> RefStore:
        return open_s3(moto_server.fresh_url()).refs

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        corrupt_ref(store, name)

    def test_concurrent_compare_and_set_has_one_winner(self, refs: RefStore) -> None:
        """moto's ``If-Match`` is not atomic under races: the 412 semantics, one at a time."""
        assert refs.compare_and_set("race/ref", Digest.of(b"start"), None)
        token = refs.read("race/ref")[1]  # type: ignore[index]
        news = [Digest.of(os.urandom(32)) for _ in range(4)]
        outcomes = [refs.compare_and_set("race/ref", d, token) for d in news]
        assert outcomes == [True, False, False, False]
        assert refs.read("race/ref")[0] == news[0]  # type: ignore[index]

    def test_concurrent_creates_have_one_winner(self, refs: RefStore) -> None:
        """``If-None-Match: *`` gives 412 to every creator after the first (one at a time)."""
        news = [Digest.of(os.urandom(32)) for _ in range(4)]
        outcomes = [refs.compare_and_set("race/new", d, None) for d in news]
        assert outcomes == [True, False, False, False]
        assert refs.read("race/new")[0] == news[0]  # type: ignore[index]

    def test_concurrent_deletes_have_one_winner(self, refs: RefStore) -> None:
        """A conditional delete with a stale ETag gets 412 (or 404 once gone)."""
        assert refs.compare_and_set("race/del", Digest.of(b"x"), None)
        token = refs.read("race/del")[1]  # type: ignore[index]
        assert [refs.compare_and_delete("race/del", token) for _ in range(3)] == [
            True,
            False,
            False,
        ]
        assert refs.read("race/del") is None


def test_etags_are_the_tokens_and_if_match_refuses_a_stale_one(moto_server: BucketServer) -> None:
    refs = open_s3(moto_server.fresh_url()).refs
    assert refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
    token = refs.read("flows/p/f")[1]  # type: ignore[index]
    assert token.startswith('"') and token.endswith('"')
    assert refs.compare_and_set("flows/p/f", Digest.of(b"2"), token)
    assert not refs.compare_and_set("flows/p/f", Digest.of(b"3"), token)
    assert not refs.compare_and_delete("flows/p/f", token)
    assert refs.read("flows/p/f")[0] == Digest.of(b"2")  # type: ignore[index]
