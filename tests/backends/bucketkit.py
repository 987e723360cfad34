"""Helpers for the bucket backend tests: store URLs through a proxy, trees, pushes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from flowpack.cas.digest import Digest
from flowpack.cas.protocols import BlobStore
from flowpack.cas.store import Store
from servers.buckets import BucketServer
from servers.proxy import FaultProxy


def via(server: BucketServer, proxy: FaultProxy, **options: str) -> str:
    """A fresh store URL whose requests go through ``proxy``."""
    return server.store_url(
        server.bucket, f"t/{uuid.uuid4().hex}", endpoint=proxy.endpoint, **options
    )


def make_tree(root: Path, files: int = 6, size: int = 200_000) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"f{i}.bin").write_bytes(os.urandom(size))
    (root / "flow.py").write_text("print('hello')\n")
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def push(store: Store, tree: Path, ref: str = "flows/p/f") -> Digest:
    digest = store.put_tree(tree).digest
    current = store.refs.get(ref)
    if current != digest:
        store.set_ref(ref, digest, expected=current, create=current is None)
    return digest


def probes_left(blobs: BlobStore) -> list[str]:
    """Objects under the store's prefix left by a precondition probe."""
    inner = blobs.inner  # type: ignore[attr-defined]
    listed = inner.ops.list(f"{inner.prefix}/")
    return [i.key for i in listed if ".flowpack-probe" in i.key]
