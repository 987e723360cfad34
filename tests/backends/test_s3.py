"""s3:// against moto server: the shared suites, S3's 412 semantics, and the S3 specifics."""

from __future__ import annotations

import pytest

from flowpack.backends.s3 import open_s3
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance
from servers.buckets import BucketServer


class TestS3BlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, moto_server: BucketServer) -> BlobStore:
        return open_s3(moto_server.fresh_url())[0]


class TestS3RefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self, moto_server: BucketServer) -> RefStore:
        return open_s3(moto_server.fresh_url())[1]
