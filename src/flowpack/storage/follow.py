"""Runs follow the seed: "commit code to the same location and each subsequent run will use
that code".

A script bundle made by a git storage records the repository, the commit and, when its ref can
move (a branch, a tag, the default branch), how to rebuild the storage (``git.follow``: the
class and its arguments, secret names only).  :func:`follow_commit` resolves that ref *now*;
when it names another commit than the registered one, it fetches that commit and packs it the
same way (dedup makes an unchanged file free), and checks that the flow's structure (task names
and the edges between them) is the registered one: a changed structure is refused with the
seed's advice to re-register.  Pinned runs (``--pinned``, ``FLOW@VERSION``, a digest) skip all
of this and run exactly the registered bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError, IntegrityError
from flowpack.cas.store import Store
from flowpack.packer.bundle import read_bundle
from flowpack.packer.loading import load_flow
from flowpack.packer.records import Registration

__all__ = ["Followed", "follow_commit", "structure"]


@dataclass(frozen=True)
class Followed:
    """The bundle packed from the commit the ref names now, and the commits involved."""

    bundle: Digest
    commit: str
    registered_commit: str

    @property
    def note(self) -> str:
        return f"running commit {self.commit} (registered at {self.registered_commit})"

    def as_meta(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "registered_commit": self.registered_commit,
            "note": self.note,
        }


def follow_commit(store: Store, registration: Registration) -> Followed | None:
    """The bundle of the commit the registration's ref names now, or None when there is
    nothing to follow (not a git bundle, a pinned commit, or the same commit).

    Raises :class:`FlowError` when the flow's structure changed (re-register it), and the git
    errors (:class:`PermissionDenied`, :class:`NotFound`, :class:`BackendError`) as one line.
    """
    try:
        info = read_bundle(store, registration.bundle).info
    except IntegrityError:
        return None  # the run itself fails on the damaged bundle, and records that
    git = info.get("git")
    if not isinstance(git, dict) or not isinstance(git.get("follow"), dict):
        return None
    storage = _rebuild(git["follow"])
    storage.bind(store)
    snap = storage.snapshot()
    if snap.commit_id == git.get("commit"):
        return None
    pushed = storage.pack_commit(snap, registration.flow, parent=registration.bundle)
    before = structure(load_flow(store, registration.bundle, registration.flow).flow)
    after = structure(load_flow(store, pushed.digest, registration.flow).flow)
    if before is not None and after is not None and before != after:
        raise FlowError(
            f"the structure of flow {registration.flow!r} (its task names and edges) changed at"
            f" commit {snap.commit_id}: re-register it (flowpack register -p"
            f" {git.get('path')} --project {registration.project}), or run the registered code"
            " with --pinned"
        )
    return Followed(pushed.digest, snap.commit_id, str(git.get("commit")))


def structure(flow: Any) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
    """A flow's task names and edges (upstream name, downstream name), or None if unknown.

    Knows flowpack's :class:`~flowpack.Flow` (calls and the calls their arguments hold) and
    flows with ``tasks`` and ``edges`` (Prefect 1).
    """
    from flowpack.packer.flow import Flow

    if isinstance(flow, Flow):
        return _flowpack_structure(flow)
    tasks, edges = getattr(flow, "tasks", None), getattr(flow, "edges", None)
    if tasks is None or edges is None:
        return None
    names = tuple(sorted(str(getattr(t, "name", t)) for t in tasks))
    pairs: set[tuple[str, str]] = set()
    for edge in edges:
        up, down = getattr(edge, "upstream_task", None), getattr(edge, "downstream_task", None)
        if up is not None and down is not None:
            pairs.add((str(up.name), str(down.name)))
    return names, tuple(sorted(pairs))


def _flowpack_structure(flow: Any) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    from flowpack.packer.flow import TaskCall

    names: tuple[str, ...] = tuple(str(c.task.name) for c in flow.calls)
    edges: set[tuple[str, str]] = set()
    for call in flow.calls:
        for value in (*call.args, *call.kwargs.values()):
            if isinstance(value, TaskCall):
                edges.add((str(value.task.name), str(call.task.name)))
    return names, tuple(sorted(edges))


def _rebuild(config: dict[str, Any]) -> Any:
    import flowpack.storage as storages
    from flowpack.storage.git import GitStorage

    cls = getattr(storages, str(config.get("class")), None)
    args = config.get("args")
    if not (isinstance(cls, type) and issubclass(cls, GitStorage)) or not isinstance(args, dict):
        raise FlowError(f"cannot follow the ref: unknown git storage {config.get('class')!r}")
    return cls(**args)
