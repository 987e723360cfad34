"""Finding a registered flow from what a person types.

A *flow spec* is ``PROJECT/FLOW`` or ``FLOW`` (when only one project has a flow of that
name), optionally followed by ``@VERSION``; or a digest (``blake3:<hex>`` or a unique prefix
of 12+ hex digits) naming a registration record, a run record (its registration), or a
bundle (the newest registration of that bundle).

A registration is *registered* when the ref of its own flow (``flows/<project>/<flow>``, from
the names the record holds) reaches it through the registration chain.  A name resolves only
to records of that flow (a ref pointing at another flow's registration is refused), and
:func:`require_registered` is what ``run`` checks before it executes anything: a digest
naming a registration (or a run of one) that no flow ref reaches is refused, with no
override.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowpack.cas.digest import looks_like_digest
from flowpack.cas.errors import FlowError, FlowpackError, NotFound, UsageError
from flowpack.cas.store import Store
from flowpack.packer.records import (
    REGISTRATION,
    RUN,
    Registration,
    flow_ref,
    parse_registration,
    parse_run,
    registrations,
    run_ref,
    slug,
)


@dataclass(frozen=True)
class FlowName:
    """A registered flow's place: its project and flow segments and its ref."""

    project: str
    flow: str

    @property
    def ref(self) -> str:
        return flow_ref(self.project, self.flow)

    @property
    def run_ref(self) -> str:
        return run_ref(self.project, self.flow)

    def __str__(self) -> str:
        return f"{self.project}/{self.flow}"


def registered(store: Store) -> list[FlowName]:
    """Every registered flow, sorted."""
    out = []
    for name, _ in store.refs.iter_refs("flows/"):
        parts = name.split("/")
        if len(parts) == 3:
            out.append(FlowName(parts[1], parts[2]))
    return sorted(out, key=str)


def split_version(text: str) -> tuple[str, int | None]:
    """``("demo/example", 3)`` from ``demo/example@3``; version None when absent."""
    base, sep, version = text.rpartition("@")
    if not sep:
        return text, None
    if not version.isdigit() or int(version) < 1:
        raise UsageError(f"bad version in {text!r}: use FLOW@N with N >= 1")
    return base, int(version)


def find_flow(store: Store, text: str) -> FlowName:
    """The registered flow ``PROJECT/FLOW`` or ``FLOW`` names; errors list what exists."""
    known = registered(store)
    if "/" in text:
        project, _, flow = text.partition("/")
        name = FlowName(slug(project), slug(flow))
        if name in known:
            return name
        raise NotFound(f"no flow registered as {text!r}; registered: {_listing(known)}")
    matches = [n for n in known if n.flow == slug(text)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(f"no flow registered as {text!r}; registered: {_listing(known)}")
    raise UsageError(f"flow {text!r} is registered in several projects: {_listing(matches)}")


def find_registration(store: Store, spec: str) -> Registration:
    """The registration a flow spec or digest names (see the module docstring)."""
    text, version = split_version(spec.strip())
    if text.startswith("blake3:") or (looks_like_digest(text) and "/" not in text):
        try:
            return _by_digest(store, text, version)
        except NotFound:
            if text.startswith("blake3:"):
                raise
    name = find_flow(store, text)
    head = store.refs.require(name.ref)
    for record in registrations(store, head):
        if version is None or record.version == version:
            return _of_flow(record, name)
    raise NotFound(f"flow {name} has no version {version}")


def _of_flow(record: Registration, name: FlowName) -> Registration:
    """``record`` if it registers flow ``name``; :class:`FlowError` if another flow's."""
    if FlowName(slug(record.project), slug(record.flow)) != name:
        raise FlowError(
            f"ref {name.ref!r} reaches registration {record.digest}, which is of flow "
            f"{record.project}/{record.flow}, not {name}: refusing it (run flowpack audit {name})"
        )
    return record


def require_registered(store: Store, record: Registration) -> Registration:
    """``record`` if its flow's ref reaches it through the registration chain.

    Raises :class:`FlowError` (one line naming the record and the ref) otherwise: a
    registration no ref reaches is never run.
    """
    name = FlowName(slug(record.project), slug(record.flow))
    head = store.refs.get(name.ref)
    if head is not None and any(r.digest == record.digest for r in registrations(store, head)):
        return record
    raise FlowError(
        f"registration {record.digest} (flow {record.project}/{record.flow} "
        f"v{record.version}) is not in the history of ref {name.ref!r}: refusing to run a "
        "registration no flow ref reaches"
    )


def _by_digest(store: Store, text: str, version: int | None) -> Registration:
    if version is not None:
        raise UsageError("a digest names one version already; drop the @VERSION")
    try:
        digest = store.resolve(text if text.startswith("blake3:") else f"blake3:{text}")
    except FlowpackError as exc:
        raise NotFound(str(exc)) from None
    manifest = store.get_manifest(digest)
    if manifest.kind == REGISTRATION:
        return parse_registration(digest, manifest)
    if manifest.kind == RUN:
        run = parse_run(digest, manifest)
        return parse_registration(run.registration, store.get_manifest(run.registration))
    newest: Registration | None = None
    for name in registered(store):
        head = store.refs.get(name.ref)
        for record in registrations(store, head):
            if record.bundle == digest and (newest is None or record.time > newest.time):
                newest = record
    if newest is None:
        raise NotFound(f"{digest} is not a registered flow bundle or record")
    return newest


def _listing(names: list[FlowName]) -> str:
    return ", ".join(map(str, names)) or "none"
