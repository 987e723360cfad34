"""The stored form of a ref value: one line ``blake3:<hex> <size> <check>``.

``check`` is the first 16 hex digits of the blake3 of ``blake3:<hex> <size>``, so a damaged ref
file is detected and named instead of silently pointing at another object.
"""

from __future__ import annotations

import blake3

from flowpack.cas.digest import Digest
from flowpack.cas.errors import InvalidDigest, MalformedData


def encode_ref_value(digest: Digest) -> bytes:
    """The bytes an adapter stores for a ref pointing at ``digest``."""
    body = f"{digest} {digest.size}"
    return f"{body} {_check(body)}\n".encode("ascii")


def decode_ref_value(data: bytes, name: str = "?") -> Digest:
    """Parse stored ref bytes; :class:`MalformedData` names the ref when they are damaged."""
    try:
        text = data.decode("ascii").strip()
        dig, size, check = text.split(" ")
        body = f"{dig} {size}"
        if check != _check(body) or not size.isdigit():
            raise ValueError("checksum mismatch")
        return Digest.parse(dig, int(size))
    except (UnicodeDecodeError, ValueError, InvalidDigest) as exc:
        raise MalformedData(f"ref {name!r} is damaged: its stored value does not verify") from exc


def _check(body: str) -> str:
    return blake3.blake3(body.encode("ascii")).hexdigest()[:16]
