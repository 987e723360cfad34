"""Loading a flow from a bundle: :func:`load_flow` picks the loader of the bundle's kind.

Each loader is imported when a bundle of its kind is loaded (cloudpickle only for pickles).
"""

from __future__ import annotations

from flowpack.cas.digest import Digest
from flowpack.cas.store import Store
from flowpack.packer.bundle import LoadedFlow, read_bundle

__all__ = ["load_flow"]


def load_flow(store: Store, digest: Digest, name: str | None = None) -> LoadedFlow:
    """Verify bundle ``digest`` and load its flow (``name``: the flow to pick from a script).

    Raises :class:`~flowpack.cas.errors.IntegrityError` for damaged bytes (nothing is executed),
    :class:`~flowpack.cas.errors.EnvironmentMismatch` for a pickle made under other versions,
    :class:`~flowpack.packer.discover.FlowNotFound` for a name the code does not define, and
    :class:`FlowError` for code that fails while loading.
    """
    bundle = read_bundle(store, digest)
    if bundle.kind == "pickle":
        from flowpack.packer.pickled import load_pickle

        return load_pickle(store, bundle)
    if bundle.kind == "module":
        from flowpack.packer.modules import load_module

        return load_module(store, bundle, name)
    from flowpack.packer.script import load_script

    return load_script(store, bundle, name)
