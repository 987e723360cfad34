"""A flow's whole history as one object, for ``flowpack export P/F`` and offline audits.

A history root is a manifest of kind ``flowpack.history.v1`` with no files::

    links: [newest registration, newest run (if any), newest signature (if any)]
    meta:  {"project", "flow", "registrations", "runs", "signatures"}   (digests as text)

It reaches every record of both chains, every bundle they name and every signature, so
``export`` of it (:func:`flowpack.cas.transfer.export_bundle`) writes one self-contained file
holding the flow's history.  The root itself is unsigned and proves nothing: it only says where
the chains start; the audit checks the chains and signatures it reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError, MalformedData
from flowpack.cas.manifest import Manifest
from flowpack.cas.opening import open_store
from flowpack.cas.store import Store
from flowpack.cas.transfer import import_bundle
from flowpack.packer.lookup import FlowName, find_flow
from flowpack.packer.records import slug
from flowpack.packer.signing import signature_ref

HISTORY = "flowpack.history.v1"


@dataclass(frozen=True)
class Heads:
    """Where a flow's three chains start (None: that chain is empty)."""

    name: FlowName
    registrations: Digest | None
    runs: Digest | None
    signatures: Digest | None


def heads(store: Store, name: FlowName) -> Heads:
    """The current heads of ``name``'s chains, read from the store's refs."""
    return Heads(
        name,
        store.refs.get(name.ref),
        store.refs.get(name.run_ref),
        store.refs.get(signature_ref(name.project, name.flow)),
    )


def write_history(store: Store, name: FlowName) -> Digest:
    """Store the history root of ``name`` (unreferenced: gc removes it after its grace)."""
    h = heads(store, name)
    if h.registrations is None:
        raise MalformedData(f"flow {name} has no registration to export")
    meta = {
        "project": name.project,
        "flow": name.flow,
        "registrations": str(h.registrations),
        "runs": str(h.runs) if h.runs else None,
        "signatures": str(h.signatures) if h.signatures else None,
    }
    links = [d for d in (h.registrations, h.runs, h.signatures) if d is not None]
    return store.put_files([], kind=HISTORY, metadata=meta, links=links).digest


def export_root(store: Store, text: str) -> Digest | None:
    """The history root to export when ``text`` is ``PROJECT/FLOW`` of a registered flow
    (and neither a ref nor a digest); None otherwise."""
    if text.count("/") != 1 or text.startswith("blake3:") or store.refs.get(text) is not None:
        return None
    try:
        name = find_flow(store, text)
    except FlowpackError:
        return None
    return write_history(store, name)


def parse_history(digest: Digest, manifest: Manifest) -> Heads:
    """Decode a history root; :class:`MalformedData` naming ``digest`` if it is not one."""
    meta = manifest.metadata
    if manifest.kind != HISTORY or manifest.files:
        raise MalformedData(
            f"{digest} is a {manifest.kind!r} object, not a flow history"
            " (export one with 'flowpack export PROJECT/FLOW')"
        )
    project, flow = meta.get("project"), meta.get("flow")
    if not isinstance(project, str) or not isinstance(flow, str):
        raise MalformedData(f"history {digest}: project or flow is missing")
    found: list[Digest | None] = []
    links = iter(manifest.links)
    for key in ("registrations", "runs", "signatures"):
        text = meta.get(key)
        if text is None:
            found.append(None)
            continue
        link = next(links, None)
        if link is None or str(link) != text:
            raise MalformedData(f"history {digest}: {key!r} disagrees with its links")
        found.append(link)
    if next(links, None) is not None or found[0] is None:
        raise MalformedData(f"history {digest}: its links disagree with its fields")
    return Heads(FlowName(slug(project), slug(flow)), found[0], found[1], found[2])


def open_export(path: Path) -> tuple[Store, Heads]:
    """Check the export file ``path`` whole (:func:`~flowpack.cas.transfer.import_bundle`),
    load it into a private in-memory store and return that store and the history's heads.

    Raises :class:`IntegrityError` for a damaged file (naming what is wrong) and
    :class:`MalformedData` for an export that is not a flow history.  The caller closes the
    store.
    """
    store = open_store("memory://", cache_dir=None)
    try:
        root = import_bundle(store, path)
        return store, parse_history(root, store.get_manifest(root))
    except BaseException:
        store.close()
        raise
