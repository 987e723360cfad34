"""`Module`: flows defined in an importable Python module.

``Module(module, **kwargs)``: the seed stored no code and imported the module where the flow
ran.  flowpack keeps the seed's meaning (the flows are those the module defines) and pins
them: ``add_flow`` bundles the module's source files and their local import closure
(:mod:`flowpack.packer.modules`), and ``get_flow`` imports the module from that verified
bundle, so a run uses exactly the registered code.  ``Module(__name__)`` works from inside the
module, as in the seed.  A module not importable at registration (only "available in your
execution environment", as the seed puts it) is registered by name alone: the run imports it
where it runs and records the digest of the source file it ran (``module_source``).
"""

from __future__ import annotations

from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.store import PushResult
from flowpack.storage.base import Storage


class Module(Storage):
    """Flows importable from the Python module ``module``."""

    SERIALIZED = ("module",)

    def location_name(self) -> str | None:
        return self.module

    def __init__(self, module: str, **kwargs: Any) -> None:
        self.module = module
        super().__init__(**kwargs)

    def pack(self, flow: Any, *, source: Any = None, parent: Digest | None = None) -> PushResult:
        from flowpack.packer.modules import importable, pack_module, pack_module_reference

        if importable(self.module):
            return pack_module(self.store, self.module, flow.name, parent=parent)
        self.logger.warning(
            "module %r is not importable here: registering its name only; it must be"
            " installed where the flow runs",
            self.module,
        )
        return pack_module_reference(self.store, self.module, flow.name, parent=parent)
