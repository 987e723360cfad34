"""Where a flow without a storage of its own is kept.

``flowpack register`` (and any caller of :func:`flowpack.packer.registration.register`)
passes :func:`default_storage` as the default: the packer itself knows no storage class.
"""

from __future__ import annotations

from typing import Any

from flowpack.packer.flowstorage import FlowStorage, flow_storage
from flowpack.packer.script import ScriptSource
from flowpack.storage.base import Storage
from flowpack.storage.local import Local
from flowpack.storage.module import Module


def default_storage(source: ScriptSource | str | None) -> Storage:
    """The default for where a flow came from: a script's file (``Local(stored_as_script=True)``:
    the file and its local imports), a module (``Module(name)``), or a pickle in ``Local()``."""
    if isinstance(source, ScriptSource):
        return Local(stored_as_script=True)
    if isinstance(source, str):
        return Module(source)
    return Local()


def storage_for(flow: Any, source: ScriptSource | str | None = None) -> FlowStorage:
    """The flow's own storage (its ``storage`` attribute), else :func:`default_storage`."""
    return flow_storage(flow) or default_storage(source)
