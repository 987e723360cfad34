"""Projects: the names flows are registered under, kept as refs ``projects/<name>``.

A project exists when it was created (:func:`create_project`: a ref ``projects/<slug>`` to a
small ``flowpack.project.v1`` record holding the exact name and creation time), when a flow
is registered in it (projects from before projects were records), or when it is
:data:`DEFAULT_PROJECT`.  :func:`require_project` is what ``flowpack register`` and
``flowpack run --project`` check: an unknown project raises :class:`ProjectNotFound` naming the
closest and the known ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowpack.cas.errors import AlreadyExists, NotFound, RefConflict
from flowpack.cas.store import Store
from flowpack.packer import environment
from flowpack.packer.kinds import PROJECT as PROJECT
from flowpack.packer.records import slug
from flowpack.packer.suggest import unknown

PREFIX = "projects/"
#: The project ``flowpack register`` uses without ``--project``; it always exists.
DEFAULT_PROJECT = "default"


class ProjectNotFound(NotFound):
    """No project of that name (the message names the close and the known ones)."""


@dataclass(frozen=True)
class Project:
    """A known project: its name, how many flows it has, and when it was created (if it was)."""

    name: str
    flows: int
    created: str | None

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "flows": self.flows, "created": self.created}


def project_ref(name: str) -> str:
    return PREFIX + slug(name)


def create_project(store: Store, name: str, *, exist_ok: bool = False) -> Project:
    """Record project ``name`` (a create-only ref).  Raises :class:`AlreadyExists` when it
    exists (created or holding flows) unless ``exist_ok``; atomic where the store's refs are."""
    name = name.strip()
    if not name:
        raise ValueError("a project needs a name")
    current = {p.name: p for p in list_projects(store)}
    existing = current.get(slug(name))
    if existing is not None and existing.created is not None:
        if exist_ok:
            return existing
        raise AlreadyExists(f"project {name!r} already exists")
    meta = {"name": name, "created": environment.utc_now()}
    digest = store.put_files([], kind=PROJECT, metadata=meta).digest
    try:
        store.set_ref(project_ref(name), digest, create=True)
    except RefConflict:
        if not exist_ok:
            raise AlreadyExists(f"project {name!r} already exists") from None
    flows = existing.flows if existing else 0
    return Project(slug(name), flows, str(meta["created"]))


def list_projects(store: Store) -> list[Project]:
    """Every known project, sorted by name (see the module docstring)."""
    created: dict[str, str | None] = {}
    for ref, digest in store.refs.iter_refs(PREFIX):
        try:
            created[ref[len(PREFIX) :]] = str(store.get_manifest(digest).metadata.get("created"))
        except NotFound:
            created[ref[len(PREFIX) :]] = None
    flows: dict[str, int] = {}
    for ref, _ in store.refs.iter_refs("flows/"):
        parts = ref.split("/")
        if len(parts) == 3:
            flows[parts[1]] = flows.get(parts[1], 0) + 1
    names = sorted({DEFAULT_PROJECT, *created, *flows})
    return [Project(n, flows.get(n, 0), created.get(n)) for n in names]


def require_project(store: Store, name: str) -> str:
    """``name`` as a ref segment if the project exists; else :class:`ProjectNotFound`."""
    known = [p.name for p in list_projects(store)]
    if slug(name) in known:
        return slug(name)
    hint = f"; create it with: flowpack project create {name}"
    raise ProjectNotFound(unknown("project", name, known) + hint)
