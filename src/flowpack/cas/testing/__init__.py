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

from flowpack.cas.testing.blobs import BlobStoreConformance
from flowpack.cas.testing.common import OnlyFlowpackErrors, race
from flowpack.cas.testing.refs import RefStoreConformance

__all__ = ["BlobStoreConformance", "OnlyFlowpackErrors", "RefStoreConformance", "race"]
