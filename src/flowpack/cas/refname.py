"""The grammar of ref names: slash-separated segments of ``[A-Za-z0-9._-]``, no ``..``."""

from __future__ import annotations

import re

from flowpack.cas.errors import InvalidRefName

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
MAX_LEN = 512


def check_ref_name(name: str) -> str:
    """Return ``name`` if it is a valid ref name, else raise :class:`InvalidRefName`."""
    if not name or len(name) > MAX_LEN:
        raise InvalidRefName(f"invalid ref name {name[:80]!r}: must be 1-{MAX_LEN} characters")
    for seg in name.split("/"):
        if not _SEGMENT.match(seg) or seg.endswith(".lock") or ".." in seg:
            raise InvalidRefName(
                f"invalid ref name {name[:80]!r}: segments are letters, digits, '.', '_' or '-',"
                " not starting with '.' or '-', without '..' or a '.lock' suffix"
            )
    return name
