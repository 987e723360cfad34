"""Reversible tag names for blob keys and refs.

A tag is ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``.  A blob key ``packs/ab..`` becomes the tag
``blob.packs.ab..`` and a ref ``flows/p/f`` the tag ``ref.flows.p.f``: ``/`` is written ``.``,
and ``.`` and ``_`` (and nothing else: keys and refs use only ``[A-Za-z0-9._-/]``) are escaped
as ``_2e`` and ``_5f``, so every tag decodes to exactly one name.  Tags of other shapes (images,
tags someone else wrote, and ``blake3-<hex>`` push tags) are not names and decode to None.
"""

from __future__ import annotations

import re

from flowpack.cas.digest import Digest
from flowpack.cas.errors import UsageError

__all__ = ["BLOB", "MAX_TAG", "REF", "decode_tag", "digest_tag", "encode_tag"]

BLOB = "blob."
REF = "ref."
MAX_TAG = 128
_ESCAPES = {".": "_2e", "_": "_5f", "/": "."}
_UNESCAPES = {"2e": ".", "5f": "_"}
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_ENCODED = re.compile(r"^(?:[A-Za-z0-9-]|_2e|_5f|\.(?=[A-Za-z0-9_-]))+$")


def encode_tag(kind: str, name: str) -> str:
    """The tag of blob key or ref ``name`` (``kind`` is :data:`BLOB` or :data:`REF`).

    The name must already be valid (checked by the caller).  Raises :class:`UsageError` when the
    tag would be longer than a registry allows (128 characters).
    """
    tag = kind + "".join(_ESCAPES.get(c, c) for c in name)
    if len(tag) > MAX_TAG:
        raise UsageError(
            f"{name[:80]!r} is too long to be a registry tag ({len(tag)} > {MAX_TAG} characters"
            " once encoded)"
        )
    return tag


def digest_tag(digest: Digest) -> str:
    """``blake3-<hex>``: the tag of the push that first set a ref to ``digest``."""
    return f"blake3-{digest.hex}"


def decode_tag(kind: str, tag: str) -> str | None:
    """The name ``tag`` encodes for ``kind``, or None if it is not such a tag."""
    if not tag.startswith(kind) or not _TAG.match(tag):
        return None
    body = tag[len(kind) :]
    if not body or not _ENCODED.match(body):
        return None
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "_":
            out.append(_UNESCAPES[body[i + 1 : i + 3]])
            i += 3
            continue
        out.append("/" if c == "." else c)
        i += 1
    return "".join(out)
