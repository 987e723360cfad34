"""flowpack: a content-addressed artifact store and packaging toolchain for workflow flows.

Public API: :class:`Store`, :class:`Digest`, :func:`open_store`, and the small flow model
(:class:`Flow`, :func:`task`, :class:`Parameter`), which the seed's examples import.  The
seed-compatible storage classes live in :mod:`flowpack.storage`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Digest", "Flow", "Parameter", "Store", "__version__", "open_store", "task"]

if TYPE_CHECKING:
    from flowpack.cas.digest import Digest
    from flowpack.cas.opening import open_store
    from flowpack.cas.store import Store
    from flowpack.packer.flow import Flow, Parameter, task

_LAZY = {
    "Digest": "flowpack.cas.digest",
    "Store": "flowpack.cas.store",
    "open_store": "flowpack.cas.opening",
    "Flow": "flowpack.packer.flow",
    "task": "flowpack.packer.flow",
    "Parameter": "flowpack.packer.flow",
}


def __getattr__(name: str) -> Any:
    """Import public names lazily, so ``import flowpack`` stays fast for the CLI."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'flowpack' has no attribute {name!r}")
