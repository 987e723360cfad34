"""Registration: pack a flow, and record it in the flow's chain unless nothing changed.

``register_flow`` packs the flow with its storage (into the registry store, or into the
storage's own store and then copied over, sending only what the registry lacks), then reads
the newest registration at ``flows/<project>/<flow>``:

- same bundle digest and same labels, without ``force``: *skipped*, no record is written
  (an unchanged flow uploads zero bytes: every chunk and the manifest are already stored);
- otherwise a new registration record is written whose parent is the newest one, and the ref
  moves to it by compare-and-set.  The version grows by one only when the bundle digest
  changes (a label change or ``force`` keeps the version); the first version is 1.

A lost compare-and-set race (another registration landed meanwhile) re-reads the ref and
decides again, up to :data:`MAX_TRIES` times; the losing record is left for gc.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flowpack import __version__
from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError, RefConflict
from flowpack.cas.store import Store
from flowpack.packer import environment
from flowpack.packer.records import (
    Registration,
    flow_ref,
    parse_registration,
    write_registration,
)
from flowpack.packer.script import ScriptSource
from flowpack.storage.base import Storage

MAX_TRIES = 16
REGISTERED = "registered"
SKIPPED = "skipped"


@dataclass(frozen=True)
class RegisterResult:
    """What registering one flow did."""

    flow: str
    project: str
    status: str
    bundle: Digest
    record: Digest
    version: int
    bytes_uploaded: int
    storage: str
    labels: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "project": self.project,
            "status": self.status,
            "bundle": str(self.bundle),
            "record": str(self.record),
            "version": self.version,
            "bytes_uploaded": self.bytes_uploaded,
            "storage": self.storage,
            "labels": list(self.labels),
        }


def storage_for(flow: Any, source: ScriptSource | str | None) -> Storage:
    """The flow's own :class:`Storage`, else the default for where it came from: a script's
    file (``Local(stored_as_script=True)``), a module (``Module``), or a pickle in ``Local()``.
    """
    from flowpack.storage.local import Local
    from flowpack.storage.module import Module

    storage = getattr(flow, "storage", None)
    if isinstance(storage, Storage):
        return storage
    if isinstance(source, ScriptSource):
        return Local(stored_as_script=True)
    if isinstance(source, str):
        return Module(source)
    return Local()


def source_info(source: ScriptSource | str | None) -> dict[str, Any]:
    """Where the flow came from, for the record: script path and git commit, or module."""
    if isinstance(source, ScriptSource):
        info: dict[str, Any] = {
            "kind": "script",
            "path": source.display,
            "entry": source.closure.entry,
            "files": list(source.closure.files),
        }
        if source.git:
            info["git"] = source.git
        return info
    if isinstance(source, str):
        return {"kind": "module", "module": source}
    return {"kind": "api"}


def register_flow(
    registry: Store,
    flow: Any,
    *,
    project: str,
    storage: Storage | None = None,
    source: ScriptSource | str | None = None,
    labels: Iterable[str] = (),
    force: bool = False,
) -> RegisterResult:
    """Register ``flow`` under ``project`` in ``registry`` (see the module docstring)."""
    name = flow.name
    storage = storage or storage_for(flow, source)
    storage.bind(registry)
    ref = flow_ref(project, name)
    head = registry.refs.get(ref)
    previous = _previous(registry, head, project, name)
    # The bundle and its registration record go up as one write session (one pack, one index).
    with registry.batch() as written:
        pushed = storage.pack(
            flow,
            source=source if isinstance(source, ScriptSource) else None,
            parent=previous.bundle if previous else None,
        )
        uploaded = pushed.bytes_uploaded
        if storage.store is not registry:
            uploaded += storage.store.copy_to(registry, [pushed.digest]).bytes_uploaded
        bundle = pushed.digest
        all_labels = tuple(sorted({*labels, *storage.labels}))
        meta: dict[str, Any] = {
            "flow": name,
            "project": project,
            "labels": list(all_labels),
            "secrets": sorted(storage.secrets),
            "storage": storage.name,
            "flow_kind": registry.get_manifest(bundle, cached=True).metadata["flow"]["kind"]
            if not _unchanged(previous, bundle, all_labels, force)
            else None,
            "source": source_info(source),
            "environment": {
                "interpreter": environment.interpreter(),
                "distributions": environment.distributions(),
                "flowpack": __version__,
            },
            "host": environment.hostname(),
        }
        staged = (
            None if meta["flow_kind"] is None else _write(registry, meta, previous, bundle, head)
        )
    uploaded += written.bytes_uploaded
    for _ in range(MAX_TRIES):
        if _unchanged(previous, bundle, all_labels, force) and previous is not None:
            return RegisterResult(
                name,
                project,
                SKIPPED,
                bundle,
                previous.digest,
                previous.version,
                uploaded,
                storage.name,
                all_labels,
            )
        if meta["flow_kind"] is None:
            meta["flow_kind"] = registry.get_manifest(bundle, cached=True).metadata["flow"]["kind"]
        record, version = staged or _write(registry, meta, previous, bundle, head)
        staged = None
        try:
            registry.set_ref(ref, record, expected=head, create=head is None)
        except RefConflict:
            head = registry.refs.get(ref)
            previous = _previous(registry, head, project, name)
            continue
        return RegisterResult(
            name,
            project,
            REGISTERED,
            bundle,
            record,
            version,
            uploaded,
            storage.name,
            all_labels,
        )
    raise RefConflict(f"ref {ref!r} kept changing; gave up after {MAX_TRIES} tries")


def _unchanged(
    previous: Registration | None, bundle: Digest, labels: tuple[str, ...], force: bool
) -> bool:
    return (
        previous is not None
        and previous.bundle == bundle
        and previous.labels == labels
        and (not force)
    )


def _write(
    registry: Store,
    meta: dict[str, Any],
    previous: Registration | None,
    bundle: Digest,
    head: Digest | None,
) -> tuple[Digest, int]:
    """Write a registration record after ``previous``; returns its digest and version."""
    version = 1 if previous is None else previous.version + (previous.bundle != bundle)
    record_meta = {**meta, "version": version, "time": environment.utc_now()}
    return write_registration(registry, record_meta, bundle, head), version


def _previous(registry: Store, head: Digest | None, project: str, name: str) -> Registration | None:
    if head is None:
        return None
    previous = parse_registration(head, registry.get_manifest(head, cached=True))
    if previous.flow != name or previous.project != project:
        raise FlowError(
            f"ref {flow_ref(project, name)!r} holds flow {previous.flow!r} of project"
            f" {previous.project!r}; rename flow {name!r} or the project"
        )
    return previous


def summary(results: Iterable[RegisterResult], errors: int = 0) -> Mapping[str, int]:
    """Counts of registered, skipped and errored flows."""
    results = list(results)
    return {
        REGISTERED: sum(r.status == REGISTERED for r in results),
        SKIPPED: sum(r.status == SKIPPED for r in results),
        "errored": errors,
    }
