"""Opening a ``file://`` URL or a plain path: :func:`open_local` and :func:`path_from_url`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowpack.backends.local.adapter import LocalBlobStore, LocalRefStore
from flowpack.cas.errors import UsageError
from flowpack.cas.location import Location, refuse_options
from flowpack.cas.urls import redact

__all__ = ["SCHEME", "open_local", "path_from_url"]

SCHEME = "file"


def open_local(url: str, **options: Any) -> Location:
    """Open ``file:///abs/path`` or a plain path (``~`` expanded, relative made absolute).

    Creates nothing; raises :class:`UsageError` for a malformed URL or any option.
    """
    refuse_options(SCHEME, options)
    root = path_from_url(url)
    return Location(redact(url), LocalBlobStore(root), LocalRefStore(root))


def path_from_url(url: str) -> Path:
    """The absolute directory a ``file://`` URL or plain path names."""
    if "://" not in url and not url.lower().startswith("file:"):
        if not url:
            raise UsageError("empty store path")
        return Path(url).expanduser().absolute()
    from urllib.parse import unquote, urlsplit  # a plain path (the default) needs neither

    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        raise UsageError(f"not a file:// URL: {url!r}")
    if parts.netloc not in ("", "localhost"):
        raise UsageError(
            f"file URL {url!r} names host {parts.netloc!r}: use file:///absolute/path"
            " (three slashes) or a plain path"
        )
    if parts.query or parts.fragment or not parts.path:
        raise UsageError(f"file URL {url!r}: expected file:///absolute/path")
    return Path(unquote(parts.path))  # url2pathname on POSIX, without importing http/ssl
