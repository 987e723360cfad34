"""flowpack's OCI artifact manifests: one per blob key, one per ref update.

Both are OCI image manifests (``application/vnd.oci.image.manifest.v1+json``) with the empty
config ``{}``, serialised canonically (sorted keys, no spaces) so the same content always has
the same digest, and readable with ``skopeo inspect --raw`` or ``oras manifest fetch``:

- blob manifest (tag ``blob.<key>``, artifactType :data:`BLOB_TYPE`): one layer, the registry
  blob holding the key's bytes, annotated with the key (``org.flowpack.key``) and its blake3
  digest (``org.flowpack.blake3``).  This is the key -> sha256 mapping.
- ref manifest (tag ``ref.<name>``, artifactType :data:`REF_TYPE`): annotations hold the ref
  name, its value (``org.flowpack.ref.value``, the :mod:`~flowpack.cas.refvalue` line, with its
  check), the manifest digest it replaced (``org.flowpack.ref.previous``: the chain that shows
  a lost update), and a nonce so no two updates share a token.  Its layers are the blob
  descriptors this location uploaded since its previous ref update: the push it concludes.
- push manifest (tag ``blake3-<hex>`` of the value a ref was set to, artifactType
  :data:`PUSH_TYPE`): written once, by the first update to that value, and never moved; the
  value and the blobs that push uploaded.  ``skopeo inspect --raw ...:blake3-<hex>`` finds a
  bundle's push by its digest.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from flowpack.backends.oci.client import OCI_MANIFEST
from flowpack.cas.errors import MalformedData

__all__ = [
    "BLOB_TYPE",
    "EMPTY",
    "EMPTY_DIGEST",
    "REF_TYPE",
    "Descriptor",
    "blob_manifest",
    "parse_manifest",
    "ref_manifest",
]

BLOB_TYPE = "application/vnd.flowpack.blob.v1"
REF_TYPE = "application/vnd.flowpack.ref.v1"
PUSH_TYPE = "application/vnd.flowpack.push.v1"
PUSH_VALUE = "org.flowpack.value"
LAYER_TYPE = "application/vnd.flowpack.blob.v1.data"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
KEY = "org.flowpack.key"
BLAKE3 = "org.flowpack.blake3"
REF_NAME = "org.flowpack.ref.name"
REF_VALUE = "org.flowpack.ref.value"
REF_PREVIOUS = "org.flowpack.ref.previous"
REF_NONCE = "org.flowpack.ref.nonce"
MAX_PUSH_LAYERS = 1000


@dataclass(frozen=True)
class Descriptor:
    """A registry blob as a manifest names it, with flowpack's key and blake3 digest."""

    digest: str
    size: int
    key: str
    blake3: str

    def as_json(self) -> dict[str, Any]:
        return {
            "mediaType": LAYER_TYPE,
            "digest": self.digest,
            "size": self.size,
            "annotations": {KEY: self.key, BLAKE3: self.blake3},
        }


def _empty_descriptor() -> dict[str, Any]:
    data = base64.b64encode(EMPTY).decode("ascii")
    return {"mediaType": EMPTY_TYPE, "digest": EMPTY_DIGEST, "size": len(EMPTY), "data": data}


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def blob_manifest(desc: Descriptor) -> bytes:
    """The manifest of blob key ``desc.key`` (deterministic)."""
    return _canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": BLOB_TYPE,
            "config": _empty_descriptor(),
            "layers": [desc.as_json()],
            "annotations": {KEY: desc.key},
        }
    )


def ref_manifest(
    name: str, value: str, previous: str | None, nonce: str, pushed: list[Descriptor]
) -> bytes:
    """The manifest of one update of ref ``name`` to ``value`` (the encoded ref line)."""
    layers = [d.as_json() for d in pushed[:MAX_PUSH_LAYERS]] or [_empty_descriptor()]
    return _canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": REF_TYPE,
            "config": _empty_descriptor(),
            "layers": layers,
            "annotations": {
                REF_NAME: name,
                REF_VALUE: value,
                REF_PREVIOUS: previous or "",
                REF_NONCE: nonce,
            },
        }
    )


def push_manifest(value: str, pushed: list[Descriptor]) -> bytes:
    """The manifest of the first push that made a ref point at ``value`` (deterministic)."""
    layers = [d.as_json() for d in pushed[:MAX_PUSH_LAYERS]] or [_empty_descriptor()]
    return _canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": PUSH_TYPE,
            "config": _empty_descriptor(),
            "layers": layers,
            "annotations": {PUSH_VALUE: value},
        }
    )


def parse_manifest(raw: bytes, what: str) -> dict[str, Any]:
    """The JSON object of manifest ``raw``; :class:`MalformedData` naming ``what`` otherwise."""
    return json_object(raw, f"the manifest of {what}")


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """The JSON object ``raw`` holds; :class:`MalformedData` naming ``what`` otherwise."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedData(f"{what} is not JSON") from exc
    if not isinstance(doc, dict):
        raise MalformedData(f"{what} is not a JSON object")
    return doc


def blob_descriptor(doc: dict[str, Any], key: str) -> tuple[str, int]:
    """``(sha256 digest, size)`` of the blob a blob manifest for ``key`` names."""
    try:
        layer = doc["layers"][0]
        digest, size = layer["digest"], layer["size"]
        stored_key = layer.get("annotations", {}).get(KEY)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise MalformedData(f"the manifest of blob {key!r} names no blob") from exc
    if (
        doc.get("artifactType") != BLOB_TYPE
        or stored_key != key
        or not isinstance(digest, str)
        or not digest.startswith("sha256:")
        or not isinstance(size, int)
        or size < 0
    ):
        raise MalformedData(f"the manifest of blob {key!r} is not flowpack's blob manifest")
    return digest, size


def ref_annotation(doc: dict[str, Any], name: str) -> str:
    """The encoded value line of a ref manifest for ``name``."""
    annotations = doc.get("annotations")
    value = annotations.get(REF_VALUE) if isinstance(annotations, dict) else None
    if doc.get("artifactType") != REF_TYPE or not isinstance(value, str):
        raise MalformedData(f"ref {name!r} is damaged: its manifest holds no ref value")
    return value
