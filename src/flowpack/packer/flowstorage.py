"""`FlowStorage`: what registering a flow needs of the place the flow is kept.

The packer defines this small protocol and depends on nothing else of a storage; the seed's
storage classes (the ``storage`` package, one layer up) satisfy it, and do their packing with
the packer's verbs (:func:`flowpack.packer.packing.pack_flow`).  A flow names its own
storage with its ``storage`` attribute (:func:`flow_storage`); a flow without one is kept in
a default storage that the caller of a registration chooses (the CLI passes the storage
package's ``default_storage``: ``Local`` for scripts and pickles, ``Module`` for modules).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from flowpack.cas.digest import Digest
    from flowpack.cas.store import PushResult, Store
    from flowpack.packer.script import ScriptSource

#: The members :func:`flow_storage` looks for.
MEMBERS = ("name", "store", "labels", "secrets", "bind", "pack")


class FlowStorage(Protocol):
    """A place flows are packed into (a content-addressed store), as registration sees it."""

    @property
    def name(self) -> str:
        """The storage's kind as recorded in a registration (``"Local"``, ``"S3"``...)."""
        ...

    @property
    def store(self) -> Store:
        """The store :meth:`pack` writes into (may be opened on first use; raises what
        opening raises)."""
        ...

    @property
    def labels(self) -> Sequence[str]:
        """Labels every registration of a flow kept here carries."""
        ...

    @property
    def secrets(self) -> Sequence[str]:
        """Names of the secrets a run needs (values are never stored)."""
        ...

    def bind(self, store: Store) -> None:
        """Use ``store`` (the registry) from now on, unless this storage names a store of its
        own; called before :attr:`store` is read.  Opens nothing."""
        ...

    def pack(
        self, flow: Any, *, source: ScriptSource | None = None, parent: Digest | None = None
    ) -> PushResult:
        """Store ``flow`` as a bundle in :attr:`store` and return what was stored.

        ``source`` is the script the flow was loaded from, when known; ``parent`` the previous
        version's bundle, for delta compression.  Uploads only what the store lacks; raises a
        :class:`~flowpack.cas.errors.FlowpackError` when the flow cannot be packed.
        """
        ...


class PublishingStorage(Protocol):
    """A storage with a build step after its flows are packed: the seed's ``build()`` at
    registration (Docker builds and pushes its image; Webhook sends the flows)."""

    def publish(self, flows: Mapping[str, Digest]) -> None:
        """Make the flows registered here (name -> bundle digest) available where this storage
        keeps them.  Raises a :class:`~flowpack.cas.errors.FlowpackError` (or the seed's
        error) when that fails; the registrations stand, and the caller reports the failure."""
        ...


def publisher(storage: FlowStorage) -> PublishingStorage | None:
    """``storage`` when it has a build step (:class:`PublishingStorage`), else None."""
    return cast(PublishingStorage, storage) if _has(storage, "publish") else None


def flow_storage(flow: Any) -> FlowStorage | None:
    """``flow.storage`` when it is a :class:`FlowStorage`, else None.

    Members are looked up statically (:func:`inspect.getattr_static`), so no property runs:
    asking opens no store.
    """
    storage = getattr(flow, "storage", None)
    if storage is None or isinstance(storage, type):
        return None
    if not all(_has(storage, member) for member in MEMBERS):
        return None
    return cast(FlowStorage, storage)


def _has(obj: object, name: str) -> bool:
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True
