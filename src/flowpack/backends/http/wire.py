"""The HTTP store protocol as data: paths, headers, and the JSON shapes both sides exchange.

Blobs live under ``/blobs/{key}``; refs under ``/refs/{name}``.  A ref's version token travels
as an HTTP entity tag: the adapter's token, base64url-encoded and quoted, so that any token an
underlying ref store uses (S3 ETags carry quotes) is a valid header value.  Errors are JSON
``{"error": "<one line>", "type": "<FlowpackError subclass name>"}``.  This module imports only
the standard library and :mod:`flowpack.cas`, so both the server and the client use it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import InvalidDigest, MalformedData

API_VERSION = "1"
#: The request header carrying the blake3 hex of a blob upload's body; the server verifies it.
BLAKE3_HEADER = "x-flowpack-blake3"
#: Content-addressed key families: the key's last segment is the blake3 hex of the bytes.
CONTENT_ADDRESSED = ("packs/", "index/")
NDJSON = "application/x-ndjson"
MAX_MISSING_KEYS = 10_000
_HEX = re.compile(r"^[0-9a-f]{64}$")


def content_hex(key: str) -> str | None:
    """The blake3 hex a content-addressed ``key`` names (``packs/<hex>``), else None."""
    for family in CONTENT_ADDRESSED:
        if key.startswith(family):
            tail = key[len(family) :]
            return tail if _HEX.match(tail) else None
    return None


def token_to_etag(token: str) -> str:
    """A ref store token as a quoted HTTP entity tag."""
    return '"' + base64.urlsafe_b64encode(token.encode()).decode("ascii").rstrip("=") + '"'


def etag_to_token(etag: str) -> str | None:
    """The token inside an entity tag made by :func:`token_to_etag`; None if it is not one."""
    text = etag.strip()
    if text.startswith("W/"):
        return None
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    body = text[1:-1]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def digest_json(digest: Digest) -> dict[str, Any]:
    """A digest as the JSON object the protocol uses."""
    return {"digest": str(digest), "size": digest.size}


def digest_from_json(doc: object, what: str) -> Digest:
    """Parse ``{"digest": "blake3:<hex>", "size": N}``; :class:`MalformedData` names ``what``."""
    try:
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        size = doc.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("size is not a non-negative integer")
        return Digest.parse(str(doc.get("digest")), size)
    except (ValueError, InvalidDigest) as exc:
        raise MalformedData(f"{what}: expected {{digest, size}}: {exc}") from None


def error_body(message: str, kind: str, **extra: Any) -> bytes:
    """The JSON body of an error response: one line of reason and the error's type."""
    line = "; ".join(p.strip() for p in message.splitlines() if p.strip()) or kind
    return json.dumps({"error": line, "type": kind, **extra}).encode()


def parse_range(header: str) -> tuple[int, int | None] | None:
    """``bytes=A-B`` or ``bytes=A-`` as ``(offset, length or None)``; None if not that form.

    Suffix ranges (``bytes=-N``) and multiple ranges are not part of the protocol.
    """
    m = re.fullmatch(r"\s*bytes=(\d{1,19})-(\d{0,19})\s*", header)
    if not m:
        return None
    start = int(m.group(1))
    if not m.group(2):
        return start, None
    end = int(m.group(2))
    if end < start:
        return None
    return start, end - start + 1
