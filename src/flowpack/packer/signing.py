"""Signatures of registration and run records, kept in a chain of their own.

Signing never changes a record: the record chains (``flows/...``, ``runs/...``) and their
digests are exactly those of an unsigned store.  Each signature is a separate immutable
manifest of kind ``flowpack.signature.v1`` with no files::

    links: [signed record, parent signature (absent for the first)]
    meta:  {"record", "record_kind", "algorithm": "ed25519", "context", "key", "key_id",
            "signature", "parent"}

and ``signatures/<project>/<flow>`` points at the newest one, so every signature is reachable
from a ref: gc keeps them, ``copy`` and ``export`` carry them.  The signed message is::

    b"flowpack-record-signature-v1\\x00" + record_kind + b"\\x00" + b"blake3:<hex>"

(the record's digest, which covers its whole chain and its bundle through their digests).
``key`` is the public key (``ed25519:<base64>``), ``key_id`` the first 16 hex digits of its
SHA-256, ``signature`` the 64-byte signature in base64.  The signature chain's own order and
parent links are *not* signed: a signature speaks for one record, wherever it sits.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

from flowpack.cas.advance import advance
from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData
from flowpack.cas.manifest import Manifest
from flowpack.cas.store import Store
from flowpack.packer import keys
from flowpack.packer.records import slug

SIGNATURE = "flowpack.signature.v1"
CONTEXT = "flowpack-record-signature-v1"
MAX_TRIES = 16


def signature_ref(project: str, flow: str) -> str:
    return f"signatures/{slug(project)}/{slug(flow)}"


def message(record: Digest, record_kind: str) -> bytes:
    """The exact bytes signed for ``record`` (see the module docstring)."""
    return b"\x00".join((CONTEXT.encode(), record_kind.encode(), str(record).encode()))


@dataclass(frozen=True)
class Signature:
    """A decoded signature object; ``valid`` is the result of checking its bytes."""

    digest: Digest
    record: Digest
    record_kind: str
    key: keys.PublicKey
    signature: bytes
    parent: Digest | None

    @property
    def valid(self) -> bool:
        return self.key.verify(self.signature, message(self.record, self.record_kind))

    def as_dict(self) -> dict[str, object]:
        return {
            "signature": str(self.digest),
            "record": str(self.record),
            "record_kind": self.record_kind,
            "key": str(self.key),
            "key_id": self.key.key_id,
            "valid": self.valid,
        }


def sign_record(
    store: Store,
    record: Digest,
    record_kind: str,
    project: str,
    flow: str,
    key: keys.SigningKey | None = None,
) -> Signature | None:
    """Sign ``record`` with ``key`` (default: the user's current key) and append the signature
    to ``signatures/<project>/<flow>``; None (nothing written) when the user has no key.

    Raises :class:`RefConflict` if the signature ref kept changing for :data:`MAX_TRIES` tries.
    """
    key = key or keys.load_optional()
    if key is None:
        return None
    sig = key.sign(message(record, record_kind))
    meta = {
        "record": str(record),
        "record_kind": record_kind,
        "algorithm": keys.ALGORITHM,
        "context": CONTEXT,
        "key": str(key.public),
        "key_id": key.public.key_id,
        "signature": base64.b64encode(sig).decode("ascii"),
    }

    def write(head: Digest | None) -> Digest:
        doc = {**meta, "parent": str(head) if head else None}
        links = [record, head] if head else [record]
        return store.put_files([], kind=SIGNATURE, metadata=doc, links=links).digest

    done = advance(store, signature_ref(project, flow), write, retries=MAX_TRIES - 1)
    return parse_signature(done.digest, store.get_manifest(done.digest))


def parse_signature(digest: Digest, manifest: Manifest) -> Signature:
    """Decode a signature object; :class:`MalformedData` naming ``digest`` otherwise."""

    def bad(why: str) -> MalformedData:
        return MalformedData(f"signature {digest}: {why}")

    meta = manifest.metadata
    if manifest.kind != SIGNATURE:
        raise bad(f"is a {manifest.kind!r} object, not a signature")
    fields = {k: meta.get(k) for k in ("record", "record_kind", "algorithm", "context", "key")}
    if not all(isinstance(v, str) for v in fields.values()):
        raise bad("a field is missing or not text")
    if fields["algorithm"] != keys.ALGORITHM or fields["context"] != CONTEXT:
        raise bad(f"unknown algorithm or context {fields['algorithm']!r}/{fields['context']!r}")
    parent = meta.get("parent")
    links = [str(d) for d in manifest.links]
    if links != [fields["record"]] + ([parent] if parent else []):
        raise bad("its fields disagree with its links")
    try:
        raw = base64.b64decode(str(meta.get("signature")), validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 64:
        raise bad("the signature is not 64 bytes of base64")
    return Signature(
        digest=digest,
        record=manifest.links[0],
        record_kind=str(fields["record_kind"]),
        key=keys.PublicKey.parse(str(fields["key"])),
        signature=raw,
        parent=manifest.links[1] if parent else None,
    )


def signatures(store: Store, head: Digest | None, *, cached: bool = False) -> Iterator[Signature]:
    """The signature chain from ``head`` back to the first (damage raises).  ``cached``: let
    the local object cache answer (re-hashed on read), for the trust check before a run."""
    seen: set[Digest] = set()
    while head is not None and head not in seen:
        seen.add(head)
        sig = parse_signature(head, store.get_manifest(head, cached=cached))
        yield sig
        head = sig.parent
