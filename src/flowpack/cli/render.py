"""Output helpers: JSON documents on stdout, human sizes and modes, manifests as JSON values.

Every command prints its result on stdout (text by default, one JSON document with ``--json``)
and nothing else there, so ``$(flowpack push dir)`` and ``flowpack ls x --json | jq`` work.
Diagnostics and progress go to stderr.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flowpack.cas.digest import Digest
    from flowpack.cas.manifest import FileEntry, Manifest

_MODE_TEXT = {0o644: "-rw-r--r--", 0o755: "-rwxr-xr-x", 0o120777: "lrwxrwxrwx"}


def print_json(value: Any) -> None:
    """Write ``value`` as one line of JSON on stdout."""
    import json  # only --json output needs it

    click.echo(json.dumps(value, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        import base64

        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    return str(value)


def human_bytes(n: int | float) -> str:
    """``n`` bytes as a short human string (``1.5 KiB``)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def mode_text(mode: int) -> str:
    """A file mode as ``ls -l`` spells it."""
    return _MODE_TEXT.get(mode, format(mode, "o"))


def mode_octal(mode: int) -> str:
    """A file mode as octal digits (``644``, ``755``, ``120777``)."""
    return format(mode, "o")


def entry_dict(entry: FileEntry) -> dict[str, Any]:
    """One file of a manifest as a JSON value (without its chunk list)."""
    return {
        "path": entry.path,
        "mode": mode_octal(entry.mode),
        "size": entry.size,
        "digest": str(entry.digest),
    }


def manifest_dict(digest: Digest, manifest: Manifest) -> dict[str, Any]:
    """The whole manifest as a JSON value: files with their chunks, links and metadata."""
    return {
        "digest": str(digest),
        "kind": manifest.kind,
        "size": manifest.size,
        "files": [
            {**entry_dict(f), "chunks": [[str(c), c.size] for c in f.chunks]}
            for f in manifest.files
        ],
        "links": [str(d) for d in manifest.links],
        "metadata": dict(manifest.metadata),
    }


def table(rows: Iterable[tuple[str, ...]], right: frozenset[int] = frozenset()) -> list[str]:
    """Rows as aligned columns (two spaces apart); columns in ``right`` are right-aligned."""
    rows = list(rows)
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return out
