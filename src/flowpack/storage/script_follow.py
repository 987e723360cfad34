"""Script storage follows the seed: "flow code can change in between (or even during) runs
without needing to be reregistered".

A flow kept as a script at a location of its own (``Local(path=..., stored_as_script=True)``)
has that location recorded in its registration (``follow``: ``{"kind": "local-script",
"path": ...}``, see :meth:`flowpack.storage.local.Local.follow_info`).  :func:`follow_script`,
called by ``flowpack run`` next to the git family's
:func:`~flowpack.storage.follow.follow_commit`, packs the script found there *now* (its local
imports and data files too; dedup makes an unchanged file free), and when that bundle differs
from the registered one, checks the flow's structure (task names and edges) is unchanged and
returns it to run; the run record links the bundle that actually ran.  A changed structure is
refused with the advice to re-register.  Pinned runs (``--pinned``, ``FLOW@VERSION``, a
digest) run exactly the registered bundle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError
from flowpack.cas.store import Store
from flowpack.packer.loading import load_flow
from flowpack.packer.records import Registration
from flowpack.packer.script import ScriptSource, pack_script
from flowpack.storage.follow import structure

LOCAL_SCRIPT = "local-script"


@dataclass(frozen=True)
class FollowedScript:
    """The bundle packed from the script as it is now, and the registered one."""

    bundle: Digest
    registered: Digest
    path: str

    @property
    def note(self) -> str:
        return (
            f"running the script at {self.path} as it is now (registered bundle {self.registered})"
        )

    def as_meta(self) -> dict[str, Any]:
        return {"script": self.path, "registered_bundle": str(self.registered), "note": self.note}


def follow_script(store: Store, registration: Registration) -> FollowedScript | None:
    """The bundle of the script at the registration's recorded location now, or None when
    there is nothing to follow (no location recorded, or the same bundle).

    Raises :class:`FlowError` when the script is gone or the flow's structure changed.
    """
    info = store.get_manifest(registration.digest, cached=True).metadata.get("follow")
    if not isinstance(info, dict) or info.get("kind") != LOCAL_SCRIPT:
        return None
    path = str(info.get("path", ""))
    if not os.path.isfile(path):
        raise FlowError(
            f"the script of flow {registration.flow!r} is no longer at {path}: put it back,"
            " re-register it, or run the registered code with --pinned"
        )
    include = [str(p) for p in info.get("include", []) if isinstance(p, str)]
    pushed = pack_script(
        store,
        ScriptSource.open(path),
        registration.flow,
        include=include,
        parent=registration.bundle,
    )
    if pushed.digest == registration.bundle:
        return None
    before = structure(load_flow(store, registration.bundle, registration.flow).flow)
    after = structure(load_flow(store, pushed.digest, registration.flow).flow)
    if before is not None and after is not None and before != after:
        raise FlowError(
            f"the structure of flow {registration.flow!r} (its task names and edges) changed in"
            f" {path}: re-register it (flowpack register -p {path} --project"
            f" {registration.project}), or run the registered code with --pinned"
        )
    return FollowedScript(pushed.digest, registration.bundle, path)
