"""az:// against Azurite: the shared suites and the Azure specifics."""

from __future__ import annotations

import pytest

from flowpack.backends.bucket.azure import open_azure
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance
from servers.buckets import BucketServer, corrupt_ref


class TestAzureBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, azurite: BucketServer) -> BlobStore:
        return open_azure(azurite.fresh_url()).blobs


class TestAzureRefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self, azurite: BucketServer) -> RefStore:
        return open_azure(azurite.fresh_url()).refs

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        corrupt_ref(store, name)
