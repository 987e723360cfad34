"""Script storage follows the seed: "flow code can change in between (or even during) runs
without needing to be reregistered".

A flow kept as a script at a location of its own (``Local(path=..., stored_as_script=True)``, or
``S3``/``GCS``/``Azure`` with ``stored_as_script=True`` and a ``key``/``blob_name``) has that
location recorded in its registration (``follow``: ``{"kind": "local-script", "path": ...}``,
see :meth:`flowpack.storage.local.Local.follow_info`; for a bucket, the class and its arguments
with the connection options less the credentials, which the run takes from its environment or a
named secret: :meth:`flowpack.storage.bucket.BucketStorage.follow_info`). :func:`follow_script`,
called by ``flowpack run`` next to the git family's
:func:`~flowpack.storage.follow.follow_commit`, packs the script found there *now* (its local
imports and data files too; dedup makes an unchanged file free), and when that bundle differs
from the registered one, checks the flow's structure (task names and edges) is unchanged and
returns it to run; the run record links the bundle that actually ran. A changed structure is
refused with the advice to re-register. Pinned runs (``--pinned``, ``FLOW@VERSION``, a digest)
run exactly the registered bundle.
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
BUCKET_SCRIPT = "bucket-script"


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
    if isinstance(info, dict) and info.get("kind") == BUCKET_SCRIPT:
        return _follow_bucket(store, registration, info)
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
        ScriptSource.from_path(path),
        registration.flow,
        include=include,
        parent=registration.bundle,
    )
    return _followed(store, registration, pushed.digest, path)


def _follow_bucket(
    store: Store, registration: Registration, info: dict[str, Any]
) -> FollowedScript | None:
    """The script at the bucket key the registration recorded, fetched and packed now."""
    import flowpack.storage as storages
    from flowpack.storage.bucket import BucketStorage

    cls = getattr(storages, str(info.get("class")), None)
    args = info.get("args")
    if not (isinstance(cls, type) and issubclass(cls, BucketStorage)) or not isinstance(args, dict):
        raise FlowError(f"cannot follow the script: unknown storage {info.get('class')!r}")
    storage = cls(**args, stored_as_script=True)
    where = storage._where()
    with storage.fetched_script() as source:
        pushed = pack_script(store, source, registration.flow, parent=registration.bundle)
    return _followed(store, registration, pushed.digest, where)


def _followed(
    store: Store, registration: Registration, bundle: Digest, path: str
) -> FollowedScript | None:
    """None when ``bundle`` is the registered one; else checked to have the same structure."""
    if bundle == registration.bundle:
        return None
    before = structure(load_flow(store, registration.bundle, registration.flow).flow)
    after = structure(load_flow(store, bundle, registration.flow).flow)
    if before is not None and after is not None and before != after:
        raise FlowError(
            f"the structure of flow {registration.flow!r} (its task names and edges) changed in"
            f" {path}: re-register it (flowpack register -p {path} --project"
            f" {registration.project}), or run the registered code with --pinned"
        )
    return FollowedScript(bundle, registration.bundle, path)
