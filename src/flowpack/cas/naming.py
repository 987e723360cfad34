"""Resolving what a user types into a manifest digest: a full digest, a unique prefix of 8 or
more hex digits, or a ref name (:meth:`flowpack.cas.store.Store.resolve`)."""

from __future__ import annotations

from collections.abc import Callable

from flowpack.cas.digest import Digest, looks_like_digest, parse_prefix
from flowpack.cas.errors import AmbiguousDigest, InvalidDigest, NotFound
from flowpack.cas.index import Index
from flowpack.cas.pack import MANIFEST
from flowpack.cas.refs import Refs

__all__ = ["resolve_name"]


def resolve_name(text: str, sync: Callable[[], None], index: Index, refs: Refs) -> Digest:
    """The manifest ``text`` names (``sync`` brings ``index`` up to date before a prefix is
    looked up).  Raises :class:`AmbiguousDigest` for a prefix of several manifests and
    :class:`NotFound` when nothing matches."""
    text = text.strip()
    if looks_like_digest(text):
        try:
            prefix = parse_prefix(text)
        except InvalidDigest:
            prefix = ""
        if prefix:
            sync()
            found = index.find_prefix(prefix, MANIFEST)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise AmbiguousDigest(f"{text!r} matches {len(found)} objects; give more digits")
            if text.startswith("blake3:"):
                raise NotFound(f"no object {text} in the store")
    ref = refs.get(text)
    if ref is None:
        raise NotFound(f"{text!r} is neither a ref nor an object in the store")
    return ref
