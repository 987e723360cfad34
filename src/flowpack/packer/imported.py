"""The refs an imported record names, so a flow moved by ``export`` and ``import`` runs by name.

``flowpack export PROJECT/FLOW`` writes the flow's history (:mod:`flowpack.packer.history`:
both record chains, their bundles and signatures; ``FLOW@VERSION`` one registration record and
what it links); ``flowpack import FILE --refs`` then calls :func:`set_imported_refs`, which
points ``flows/<project>/<flow>``, ``runs/<project>/<flow>`` and the signature chain's ref at
the heads a history names, or the one ref a registration or run record belongs at.  A ref
already there with another value is left alone and reported
(:class:`~flowpack.cas.errors.AlreadyExists`, before any ref moves) unless ``force``; a root
that is a plain bundle names no ref (:class:`UsageError`).  Each ref moves by compare-and-set
from the value read, so a concurrent writer is never overwritten blindly.
"""

from __future__ import annotations

from flowpack.cas.digest import Digest
from flowpack.cas.errors import AlreadyExists, UsageError
from flowpack.cas.store import Store
from flowpack.packer.history import HISTORY, parse_history
from flowpack.packer.records import REGISTRATION, RUN, flow_ref, parse_registration, parse_run
from flowpack.packer.signing import signature_ref


def imported_refs(store: Store, root: Digest) -> dict[str, Digest]:
    """``{ref: digest}`` for the refs an imported ``root`` names (module docstring)."""
    manifest = store.get_manifest(root)
    if manifest.kind == HISTORY:
        heads = parse_history(root, manifest)
        name = heads.name
        found = {
            name.ref: heads.registrations,
            name.run_ref: heads.runs,
            signature_ref(name.project, name.flow): heads.signatures,
        }
        return {ref: d for ref, d in found.items() if d is not None}
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
    wanted = imported_refs(store, root)
    current = {ref: store.refs.get(ref) for ref in wanted}
    for ref, digest in wanted.items():  # every ref checked before any moves
        if current[ref] not in (None, digest) and not force:
            raise AlreadyExists(
                f"ref {ref!r} points at {current[ref]}, not at the imported {digest}; "
                "use --force to move it"
            )
    out: dict[str, str] = {}
    for ref, digest in wanted.items():
        now = current[ref]
        if now == digest:
            out[ref] = "unchanged"
            continue
        store.set_ref(ref, digest, expected=now, create=now is None)
        out[ref] = "created" if now is None else "updated"
    return out
