"""Registration and run records: immutable manifests chained by digest, and the refs to them.

A record is a manifest with no files whose ``links`` name the objects it is about; its digest
is its address, so changing any byte of it (or of anything it links to) changes every digest
after it.  Two chains per flow:

``flows/<project>/<flow>`` -> the newest ``flowpack.registration.v1`` record::

    links: [bundle, parent registration (absent for the first)]
    meta:  {"flow", "project", "bundle", "version", "labels", "secrets", "storage", "flow_kind",
            "source", "environment": {"interpreter", "distributions", "flowpack"}, "host",
            "time", "parent"}

``runs/<project>/<flow>`` -> the newest ``flowpack.run.v1`` record::

    links: [bundle, registration, parent run (absent for the first)]
    meta:  {"flow", "project", "bundle", "registration", "version", "status", "error",
            "parameters", "start", "end", "host", "interpreter", "flowpack", "parent"}

Digests in ``meta`` are text (``blake3:<hex>``) for people; the links are what the store's gc
and verify walk, and parsing refuses a record whose text and links disagree.  Ref segments
are the project and flow names with characters outside ``[A-Za-z0-9._-]`` replaced by ``-``
(the record keeps the exact names).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData
from flowpack.cas.manifest import Manifest
from flowpack.cas.store import Store
from flowpack.packer.kinds import REGISTRATION as REGISTRATION
from flowpack.packer.kinds import RUN as RUN

SUCCESS = "success"
FAILED = "failed"

_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def slug(name: str) -> str:
    """``name`` as one ref-name segment."""
    text = _BAD.sub("-", name.strip())
    text = re.sub(r"\.{2,}", ".", text).lstrip(".-")
    if text.endswith(".lock"):
        text = text[: -len(".lock")] + "-lock"
    return text[:128] or "flow"


def flow_ref(project: str, flow: str) -> str:
    return f"flows/{slug(project)}/{slug(flow)}"


def run_ref(project: str, flow: str) -> str:
    return f"runs/{slug(project)}/{slug(flow)}"


@dataclass(frozen=True)
class Registration:
    """A decoded ``flowpack.registration.v1`` record (``digest`` is the record's own)."""

    digest: Digest
    flow: str
    project: str
    bundle: Digest
    version: int
    time: str
    parent: Digest | None
    labels: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    storage: str = ""
    flow_kind: str = ""
    host: str = ""
    source: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "record": str(self.digest),
            "flow": self.flow,
            "project": self.project,
            "bundle": str(self.bundle),
            "version": self.version,
            "time": self.time,
            "parent": str(self.parent) if self.parent else None,
            "labels": list(self.labels),
            "secrets": list(self.secrets),
            "storage": self.storage,
            "flow_kind": self.flow_kind,
            "host": self.host,
            "source": dict(self.source),
        }


@dataclass(frozen=True)
class RunRecord:
    """A decoded ``flowpack.run.v1`` record."""

    digest: Digest
    flow: str
    project: str
    bundle: Digest
    registration: Digest
    version: int
    status: str
    error: str | None
    start: str
    end: str
    parent: Digest | None
    host: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    interpreter: Mapping[str, Any] = field(default_factory=dict)
    run_name: str = ""
    labels: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "record": str(self.digest),
            "flow": self.flow,
            "project": self.project,
            "bundle": str(self.bundle),
            "registration": str(self.registration),
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "start": self.start,
            "end": self.end,
            "parent": str(self.parent) if self.parent else None,
            "host": self.host,
            "parameters": dict(self.parameters),
            "run_name": self.run_name or None,
            "labels": list(self.labels),
        }


def write_registration(
    store: Store, meta: Mapping[str, Any], bundle: Digest, parent: Digest | None
) -> Digest:
    """Store a registration record (``meta`` without ``bundle``/``parent``) and return it."""
    doc = {**meta, "bundle": str(bundle), "parent": str(parent) if parent else None}
    links = [bundle, parent] if parent else [bundle]
    return store.put_files([], kind=REGISTRATION, metadata=doc, links=links).digest


def write_run(
    store: Store,
    meta: Mapping[str, Any],
    bundle: Digest,
    registration: Digest,
    parent: Digest | None,
) -> Digest:
    """Store a run record (``meta`` without the linked digests) and return its digest."""
    doc = {
        **meta,
        "bundle": str(bundle),
        "registration": str(registration),
        "parent": str(parent) if parent else None,
    }
    links = [bundle, registration, parent] if parent else [bundle, registration]
    return store.put_files([], kind=RUN, metadata=doc, links=links).digest


def parse_registration(digest: Digest, manifest: Manifest) -> Registration:
    """Decode a registration record; :class:`MalformedData` naming ``digest`` if it is not one."""
    m = _Fields(digest, manifest, REGISTRATION)
    parent = m.linked("parent", 1)
    m.links_count(2 if parent else 1)
    return Registration(
        digest=digest,
        flow=m.text("flow"),
        project=m.text("project"),
        bundle=m.linked_required("bundle", 0),
        version=m.positive("version"),
        time=m.text("time"),
        parent=parent,
        labels=m.texts("labels"),
        secrets=m.texts("secrets"),
        storage=m.text("storage", ""),
        flow_kind=m.text("flow_kind", ""),
        host=m.text("host", ""),
        source=m.mapping("source"),
        environment=m.mapping("environment"),
    )


def parse_run(digest: Digest, manifest: Manifest) -> RunRecord:
    """Decode a run record; :class:`MalformedData` naming ``digest`` if it is not one."""
    m = _Fields(digest, manifest, RUN)
    parent = m.linked("parent", 2)
    m.links_count(3 if parent else 2)
    status = m.text("status")
    if status not in (SUCCESS, FAILED):
        raise m.error(f"unknown status {status!r}")
    error = manifest.metadata.get("error")
    if error is not None and not isinstance(error, str):
        raise m.error("error is not text")
    return RunRecord(
        digest=digest,
        flow=m.text("flow"),
        project=m.text("project"),
        bundle=m.linked_required("bundle", 0),
        registration=m.linked_required("registration", 1),
        version=m.positive("version"),
        status=status,
        error=error,
        start=m.text("start"),
        end=m.text("end"),
        parent=parent,
        host=m.text("host", ""),
        parameters=m.mapping("parameters"),
        interpreter=m.mapping("interpreter"),
        run_name=m.text("run_name", "") if m.meta.get("run_name") is not None else "",
        labels=m.texts("labels"),
    )


def read_registration(store: Store, digest: Digest) -> Registration:
    return parse_registration(digest, store.get_manifest(digest))


def read_run(store: Store, digest: Digest) -> RunRecord:
    return parse_run(digest, store.get_manifest(digest))


def registrations(store: Store, head: Digest | None) -> Iterator[Registration]:
    """The registration chain from ``head`` back to the first (damage raises)."""
    seen: set[Digest] = set()
    while head is not None and head not in seen:
        seen.add(head)
        record = read_registration(store, head)
        yield record
        head = record.parent


def runs(store: Store, head: Digest | None) -> Iterator[RunRecord]:
    """The run chain from ``head`` back to the first (damage raises)."""
    seen: set[Digest] = set()
    while head is not None and head not in seen:
        seen.add(head)
        record = read_run(store, head)
        yield record
        head = record.parent


class _Fields:
    """Typed access to a record's metadata, raising :class:`MalformedData` naming the record."""

    def __init__(self, digest: Digest, manifest: Manifest, kind: str) -> None:
        self.digest = digest
        self.manifest = manifest
        self.meta = manifest.metadata
        if manifest.kind != kind:
            raise self.error(f"is a {manifest.kind!r} object, not a {kind!r} record")
        if manifest.files:
            raise self.error("a record holds no files")

    def error(self, message: str) -> MalformedData:
        return MalformedData(f"record {self.digest}: {message}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.meta.get(key, default)
        if not isinstance(value, str):
            raise self.error(f"{key!r} is missing or not text")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.meta.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(f"{key!r} is not a list of text")
        return tuple(value)

    def positive(self, key: str) -> int:
        value = self.meta.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.error(f"{key!r} is not a positive integer")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.meta.get(key, {})
        if not isinstance(value, dict):
            raise self.error(f"{key!r} is not a map")
        return dict(value)

    def linked(self, key: str, index: int) -> Digest | None:
        """The digest ``key`` names, which must be link ``index`` (None if ``key`` is null)."""
        value = self.meta.get(key)
        if value is None:
            return None
        return self.linked_required(key, index)

    def linked_required(self, key: str, index: int) -> Digest:
        value = self.meta.get(key)
        links = self.manifest.links
        if not isinstance(value, str):
            raise self.error(f"{key!r} is missing or not a digest")
        if index >= len(links) or str(links[index]) != value:
            raise self.error(f"{key!r} ({value}) disagrees with the record's links")
        return links[index]

    def links_count(self, n: int) -> None:
        if len(self.manifest.links) != n:
            raise self.error(f"has {len(self.manifest.links)} links, expected {n}")
