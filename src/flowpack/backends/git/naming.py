"""Where flowpack's names live in a git repository: ``refs/flowpack/{blobs,refs}/...``.

A blob key or ref name becomes a git ref name segment by segment.  A segment git would refuse
or that could be misread (starting with ``_``, ending with ``.`` or ``.lock``, holding ``..``)
is written as ``_`` + the hex of its UTF-8 bytes.  The last segment gets a trailing ``@``, which
no key, name or escaped segment contains, so ``a`` and ``a/b`` can both exist (git cannot have a
ref that is also a directory of refs).  Encoding is injective and :func:`decode` inverts it.
"""

from __future__ import annotations

__all__ = ["BLOBS", "REFS", "decode", "encode"]

BLOBS = "refs/flowpack/blobs/"
REFS = "refs/flowpack/refs/"
_LEAF = "@"


def encode(namespace: str, name: str) -> str:
    """The git ref holding ``name`` (an already validated key or ref name) in ``namespace``."""
    return namespace + "/".join(_segment(seg) for seg in name.split("/")) + _LEAF


def decode(namespace: str, ref: str) -> str | None:
    """The name stored at git ref ``ref``, or None if ``ref`` is not one of ours."""
    if not ref.startswith(namespace) or not ref.endswith(_LEAF):
        return None
    try:
        return "/".join(_unsegment(seg) for seg in ref[len(namespace) : -1].split("/"))
    except ValueError:
        return None


def _segment(seg: str) -> str:
    if seg.startswith("_") or seg.endswith((".", ".lock")) or ".." in seg:
        return "_" + seg.encode("utf-8").hex()
    return seg


def _unsegment(seg: str) -> str:
    if not seg or _LEAF in seg:
        raise ValueError(seg)
    return bytes.fromhex(seg[1:]).decode("utf-8") if seg.startswith("_") else seg
