"""The stored form of a ref value: one line ``blake3:<hex> <size> <check>[ <write id>]``.

``check`` is the first 16 hex digits of the blake3 of ``blake3:<hex> <size>``, so a damaged ref
file is detected and named instead of silently pointing at another object.  The optional
``write id`` (8-32 lowercase hex, not part of the value) lets an adapter whose write may be
repeated by its HTTP client tell its own write from another writer's write of the same value
(see :mod:`flowpack.backends.bucket.refs`); readers ignore it.
"""

from __future__ import annotations

import re

import blake3

from flowpack.cas.digest import Digest
from flowpack.cas.errors import InvalidDigest, MalformedData


def encode_ref_value(digest: Digest, write_id: str | None = None) -> bytes:
    """The bytes an adapter stores for a ref pointing at ``digest`` (tagged with ``write_id``,
    8-32 lowercase hex, when given)."""
    body = f"{digest} {digest.size}"
    if write_id is not None and not _WRITE_ID.match(write_id):
        raise ValueError(f"a write id is 8-32 lowercase hex, not {write_id[:40]!r}")
    tail = f" {write_id}" if write_id else ""
    return f"{body} {_check(body)}{tail}\n".encode("ascii")


def decode_ref_value(data: bytes, name: str = "?") -> Digest:
    """Parse stored ref bytes; :class:`MalformedData` names the ref when they are damaged."""
    try:
        text = data.decode("ascii").strip()
        dig, size, check, *tail = text.split(" ")
        if len(tail) > 1 or (tail and not _WRITE_ID.match(tail[0])):
            raise ValueError("unexpected fields")
        body = f"{dig} {size}"
        if check != _check(body) or not size.isdigit():
            raise ValueError("checksum mismatch")
        return Digest.parse(dig, int(size))
    except (UnicodeDecodeError, ValueError, InvalidDigest) as exc:
        raise MalformedData(f"ref {name!r} is damaged: its stored value does not verify") from exc


_WRITE_ID = re.compile(r"^[0-9a-f]{8,32}$")


def _check(body: str) -> str:
    return blake3.blake3(body.encode("ascii")).hexdigest()[:16]
