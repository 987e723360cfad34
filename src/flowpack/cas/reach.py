"""Listing refs even when some are damaged (what refs reach is walked by :mod:`.walk`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData, UsageError
from flowpack.cas.refs import Refs

#: Every character a ref name may contain, for splitting a listing around a damaged ref.
REF_ALPHABET = "/-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class RefScan:
    """The refs a store lists: those whose value decodes, and the damaged ones with a reason."""

    good: dict[str, Digest] = field(default_factory=dict)
    damaged: dict[str, str] = field(default_factory=dict)


def scan_refs(refs: Refs, prefix: str = "") -> RefScan:
    """Every ref under ``prefix``; a damaged ref does not hide the others.

    A listing stops at the first ref whose stored value does not verify; the listing is then
    split by the next character of the name until each damaged ref is isolated (a few dozen
    listings per damaged ref, none when the refs are sound).  Backend errors propagate.
    """
    out = RefScan()
    _scan(refs, prefix, out)
    return out


def _scan(refs: Refs, prefix: str, out: RefScan) -> None:
    found: dict[str, Digest] = {}
    try:
        for name, digest in refs.iter_refs(prefix):
            found[name] = digest
    except MalformedData:
        pass
    else:
        out.good.update(found)
        return
    if prefix:
        try:
            value = refs.get(prefix)
        except MalformedData as exc:
            out.damaged[prefix] = str(exc)
        except UsageError:
            pass  # not a complete ref name
        else:
            if value is not None:
                out.good[prefix] = value
    for c in REF_ALPHABET:
        _scan(refs, prefix + c, out)
