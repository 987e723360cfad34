"""Flow bundles: reading what a bundle says about its flow, extracting it, loading the flow.

A flow bundle is a manifest of kind ``bundle`` whose metadata holds a ``flow`` map::

    {"flow": {"kind": "script", "name": str, "entry": "flows/my_flow.py", "paths": [str]}}
    {"flow": {"kind": "module", "name": str, "module": "pkg.flows", "paths": ["."]}}
    {"flow": {"kind": "pickle", "name": str, "file": "flow.pkl", "protocol": 5,
              "python": "3.12", "cloudpickle": "3.1.2", "flowpack": "0.1.0"}}

Loading a bundle's flow is :func:`flowpack.packer.loading.load_flow`, which dispatches to the
loader of each kind; this module is what those loaders share.

Nothing in a bundle depends on the time or the host: environment facts go into registration
records (:mod:`flowpack.packer.records`).  Loading always verifies first: a script or module
bundle is restored (every file re-hashed before it is written) into a fresh directory and only
then executed; a pickle is read verified and its versions are checked before unpickling.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError, MalformedData
from flowpack.cas.manifest import BUNDLE, Manifest
from flowpack.cas.restore import restore_tree
from flowpack.cas.store import Store
from flowpack.packer.scope import ModuleScope

KINDS = ("script", "module", "pickle")
_EXTRACTED: list[Path] = []


@dataclass(frozen=True)
class FlowBundle:
    """A verified flow bundle's manifest and the ``flow`` map of its metadata."""

    digest: Digest
    manifest: Manifest
    info: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.info["kind"])

    @property
    def name(self) -> str:
        return str(self.info["name"])


@dataclass
class LoadedFlow:
    """A flow loaded from a bundle, with the module scope its code must run in (if any)."""

    flow: Any
    bundle: FlowBundle
    scope: ModuleScope | None = None
    root: Path | None = None
    #: Facts about what ran, for the run record (e.g. ``module_source`` for an installed module).
    notes: dict[str, Any] = field(default_factory=dict)


def flow_metadata(**info: Any) -> dict[str, Any]:
    """Bundle metadata for a flow: ``{"flow": info}``."""
    return {"flow": info}


def read_bundle(store: Store, digest: Digest) -> FlowBundle:
    """The flow bundle ``digest``; :class:`FlowError` if it is not one."""
    manifest = store.get_manifest(digest)
    info = manifest.metadata.get("flow")
    if manifest.kind != BUNDLE or not isinstance(info, dict):
        raise FlowError(f"{digest} is not a flow bundle (kind {manifest.kind!r})")
    if info.get("kind") not in KINDS or not isinstance(info.get("name"), str):
        raise MalformedData(f"flow bundle {digest} has malformed flow metadata")
    return FlowBundle(digest, manifest, dict(info))


def extract(store: Store, bundle: FlowBundle) -> Path:
    """Restore ``bundle`` (verified) into a fresh directory, removed when the process exits."""
    root = Path(tempfile.mkdtemp(prefix="flowpack-flow-"))
    if not _EXTRACTED:
        atexit.register(_cleanup)
    _EXTRACTED.append(root)
    restore_tree(store, bundle.digest, root, force=True)
    return root


def extracted_root(path: str | Path) -> Path | None:
    """The folder :func:`extract` made that holds ``path``, or None."""
    target = os.path.realpath(path)
    for root in _EXTRACTED:
        real = os.path.realpath(root)
        if os.path.commonpath([real, target]) == real:
            return root
    return None


def _cleanup() -> None:
    while _EXTRACTED:
        shutil.rmtree(_EXTRACTED.pop(), ignore_errors=True)
