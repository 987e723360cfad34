"""gs:// against fake-gcs-server: the shared suites and the GCS specifics."""

from __future__ import annotations

import pytest

from flowpack.backends.gcs import open_gcs
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance
from servers.buckets import BucketServer


class TestGcsBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, fake_gcs_server: BucketServer) -> BlobStore:
        return open_gcs(fake_gcs_server.fresh_url())[0]


class TestGcsRefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self, fake_gcs_server: BucketServer) -> RefStore:
        return open_gcs(fake_gcs_server.fresh_url())[1]
