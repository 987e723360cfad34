"""Registration: pack a flow, and record it in the flow's chain unless nothing changed.

``register_flow`` is one :func:`~flowpack.cas.advance.advance` of ``flows/<project>/<flow>``:
it reads the newest registration there, packs the flow with its storage (into the registry
store, or into the storage's own store and then copied over, sending only what the registry
lacks), and, in the same write session as the bundle:

- same bundle digest and same labels, without ``force``: *skipped*, no record is written
  (an unchanged flow uploads zero bytes: every chunk and the manifest are already stored);
- otherwise a new registration record is written whose parent is the newest one, and the ref
  moves to it by compare-and-set.  The version grows by one only when the bundle digest
  changes (a label change or ``force`` keeps the version); the first version is 1.  The new
  record is then signed with the user's key, if they have one (:mod:`flowpack.packer.signing`).

A lost compare-and-set race (another registration landed meanwhile) re-reads the ref and
decides again on the winner's record (the flow is packed only once), up to :data:`MAX_TRIES`
tries; the losing record is left for gc.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flowpack import __version__
from flowpack.cas.advance import Advanced, advance
from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError
from flowpack.cas.store import Store
from flowpack.packer import environment
from flowpack.packer.flowstorage import FlowStorage
from flowpack.packer.records import (
    REGISTRATION,
    Registration,
    flow_ref,
    parse_registration,
    write_registration,
)
from flowpack.packer.script import ScriptSource
from flowpack.packer.signing import sign_record

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


def _git_source(flow_info: dict[str, Any]) -> dict[str, Any] | None:
    """The repository (redacted), commit and path of a bundle packed from git, for the record."""
    git = flow_info.get("git")
    if not isinstance(git, dict):
        return None
    return {"kind": "git", **{k: git[k] for k in ("repo", "commit", "path") if k in git}}


def register_flow(
    registry: Store,
    flow: Any,
    *,
    project: str,
    storage: FlowStorage,
    source: ScriptSource | str | None = None,
    labels: Iterable[str] = (),
    force: bool = False,
) -> RegisterResult:
    """Register ``flow``, kept in ``storage``, under ``project`` in ``registry`` (see the
    module docstring).  ``source`` is where the flow was loaded from (a script, a module's
    name, or None), for the record.

    Raises :class:`FlowError` when the ref names another flow, :class:`RefConflict` when the
    ref kept changing for :data:`MAX_TRIES` tries, and whatever packing the flow raises (then
    nothing is recorded).
    """
    storage.bind(registry)
    step = _Registrar(registry, flow, project, storage, source, labels, force)
    done = advance(registry, flow_ref(project, flow.name), step.write, retries=MAX_TRIES - 1)
    if done.moved:
        sign_record(registry, done.digest, REGISTRATION, project, flow.name)
    return step.result(done)


class _Registrar:
    """The ``write`` of one registration: the bundle (packed once, on the first try), then a
    record chained on the head it is given, unless nothing changed since that head."""

    def __init__(
        self,
        registry: Store,
        flow: Any,
        project: str,
        storage: FlowStorage,
        source: ScriptSource | str | None,
        labels: Iterable[str],
        force: bool,
    ) -> None:
        self.registry = registry
        self.flow = flow
        self.project = project
        self.storage = storage
        self.source = source
        self.labels = tuple(sorted({*labels, *storage.labels}))
        self.force = force
        self.bundle: Digest | None = None
        self.uploaded = 0  # sent outside the registry's write sessions
        self.previous: Registration | None = None
        self.version = 0
        self._meta: dict[str, Any] | None = None

    def write(self, head: Digest | None) -> Digest:
        """Pack (first try only), then write a record after ``head``; ``head`` if unchanged."""
        self.previous = _previous(self.registry, head, self.project, self.flow.name)
        bundle = self.bundle or self._pack()
        if _unchanged(self.previous, bundle, self.labels, self.force) and head is not None:
            return head
        record, self.version = _write(self.registry, self._metadata(), self.previous, bundle, head)
        return record

    def _pack(self) -> Digest:
        """The bundle in the registry (packed by the storage, copied over from its own store)."""
        storage, registry = self.storage, self.registry
        pushed = storage.pack(
            self.flow,
            source=self.source if isinstance(self.source, ScriptSource) else None,
            parent=self.previous.bundle if self.previous else None,
        )
        if storage.store is not registry:
            self.uploaded += pushed.bytes_uploaded
            self.uploaded += storage.store.copy_to(registry, [pushed.digest]).bytes_uploaded
        self.bundle = pushed.digest
        return pushed.digest

    def _metadata(self) -> dict[str, Any]:
        if self._meta is None:
            assert self.bundle is not None
            flow_info = self.registry.get_manifest(self.bundle, cached=True).metadata["flow"]
            kind = flow_info["kind"]
            self._meta = {
                "flow": self.flow.name,
                "project": self.project,
                "labels": list(self.labels),
                "secrets": sorted(self.storage.secrets),
                "storage": self.storage.name,
                "flow_kind": kind,
                "source": _git_source(flow_info) or source_info(self.source),
                "environment": {
                    "interpreter": environment.interpreter(),
                    "distributions": environment.distributions(),
                    "flowpack": __version__,
                },
                "host": environment.hostname(),
            }
        return self._meta

    def result(self, done: Advanced) -> RegisterResult:
        """What the registration did, once ``done`` moved the ref (or found it unchanged)."""
        assert self.bundle is not None
        if done.moved:
            status, record, version = REGISTERED, done.digest, self.version
        else:
            assert self.previous is not None
            status, record, version = SKIPPED, self.previous.digest, self.previous.version
        return RegisterResult(
            self.flow.name,
            self.project,
            status,
            self.bundle,
            record,
            version,
            self.uploaded + done.bytes_uploaded,
            self.storage.name,
            self.labels,
        )


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
