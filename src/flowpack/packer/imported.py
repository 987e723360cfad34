"""The refs an imported record names, so a flow moved by ``export`` and ``import`` runs by name.

``flowpack export PROJECT/FLOW`` writes the flow's newest registration record and everything it
links (its bundle and the earlier registrations); ``flowpack import FILE --refs`` then calls
:func:`set_imported_refs`, which points ``flows/<project>/<flow>`` (a registration record) or
``runs/<project>/<flow>`` (a run record) at the imported root.  A ref already there with
another value is left alone and reported (:class:`~flowpack.cas.errors.AlreadyExists`) unless
``force``; a root that is a plain bundle names no ref (:class:`UsageError`).  Each ref moves
by compare-and-set from the value read, so a concurrent writer is never overwritten blindly.
"""

from __future__ import annotations

from flowpack.cas.digest import Digest
from flowpack.cas.errors import AlreadyExists, UsageError
from flowpack.cas.store import Store
from flowpack.packer.records import REGISTRATION, RUN, flow_ref, parse_registration, parse_run


def imported_refs(store: Store, root: Digest) -> dict[str, Digest]:
    """``{ref: root}`` for the ref an imported ``root`` record belongs at (module docstring)."""
    manifest = store.get_manifest(root)
    if manifest.kind == REGISTRATION:
        reg = parse_registration(root, manifest)
        return {flow_ref(reg.project, reg.flow): root}
    if manifest.kind == RUN:
        run = parse_run(root, manifest)
        return {f"runs/{flow_ref(run.project, run.flow).partition('/')[2]}": root}
    raise UsageError(
        f"{root} is a bundle, not a flow's record, so it names no ref: export the flow by its"
        " name (flowpack export PROJECT/FLOW -o FILE), or set a ref with flowpack ref set"
    )


def set_imported_refs(store: Store, root: Digest, *, force: bool = False) -> dict[str, str]:
    """Point the refs :func:`imported_refs` names at ``root``; returns ``{ref: "created" |
    "updated" | "unchanged"}``.  Raises :class:`AlreadyExists` for a ref that holds another
    value (unless ``force``) and :class:`~flowpack.cas.errors.RefConflict` on a lost race."""
    out: dict[str, str] = {}
    for ref, digest in imported_refs(store, root).items():
        current = store.refs.get(ref)
        if current == digest:
            out[ref] = "unchanged"
            continue
        if current is not None and not force:
            raise AlreadyExists(
                f"ref {ref!r} points at {current}, not at the imported {digest}; "
                "use --force to move it"
            )
        store.set_ref(ref, digest, expected=current, create=current is None)
        out[ref] = "created" if current is None else "updated"
    return out
