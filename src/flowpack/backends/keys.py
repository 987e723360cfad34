"""The grammar of blob keys, shared by every adapter so that a key valid on one store is valid
on all of them.

A key is 1 to 1024 ASCII characters: slash-separated segments of ``[A-Za-z0-9._-]`` (at most 255
each) that do not start with ``.``.  So a key is never absolute, never contains ``.``, ``..`` or
empty segments, and never collides with an adapter's hidden working files (temporary uploads,
lock files), which all start with a dot.  Byte ranges for ``get`` are checked here too.
"""

from __future__ import annotations

import re

from flowpack.cas.errors import UnsafePath, UsageError

MAX_KEY_LEN = 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$")
_PREFIX_CHARS = re.compile(r"^[A-Za-z0-9._/-]*$")


def check_blob_key(key: str) -> str:
    """Return ``key`` if it is a valid blob key.

    Raises :class:`UnsafePath` (a :class:`UsageError`) for absolute keys and keys with empty,
    ``.`` or ``..`` segments, and :class:`UsageError` for any other malformed key.
    """
    if not isinstance(key, str) or not key:
        raise UsageError(f"invalid blob key {key!r}: must be a non-empty string")
    if len(key) > MAX_KEY_LEN:
        raise UsageError(f"invalid blob key {key[:80]!r}...: longer than {MAX_KEY_LEN} characters")
    for seg in key.split("/"):
        if seg in ("", ".", "..") or seg.startswith("."):
            raise UnsafePath(
                f"invalid blob key {key[:80]!r}: keys are relative, without empty, '.' or '..'"
                " segments, and no segment starts with '.'"
            )
        if not _SEGMENT.match(seg):
            raise UsageError(
                f"invalid blob key {key[:80]!r}: segments are 1-255 characters of letters,"
                " digits, '.', '_' or '-'"
            )
    return key


def check_key_prefix(prefix: str) -> str:
    """Return ``prefix`` if it may start a blob key (``""``, ``packs/``, ``index/ab``).

    Raises :class:`UnsafePath` for an absolute prefix or one with ``..`` or empty segments, and
    :class:`UsageError` for characters no key can contain.  A valid prefix may match nothing.
    """
    if not isinstance(prefix, str) or not _PREFIX_CHARS.match(prefix):
        raise UsageError(f"invalid key prefix {prefix!r}: only letters, digits, '.', '_', '-', '/'")
    segments = prefix.split("/")
    # The last segment may be partial (or empty after a trailing slash); the others are whole.
    if prefix.startswith("/") or any(s in ("", ".", "..") for s in segments[:-1]):
        raise UnsafePath(f"invalid key prefix {prefix!r}: must be relative, without '..'")
    if segments[-1] == "..":
        raise UnsafePath(f"invalid key prefix {prefix!r}: must be relative, without '..'")
    return prefix


def check_range(offset: int, length: int | None) -> None:
    """Raise :class:`UsageError` unless ``offset >= 0`` and ``length`` is None or ``>= 0``."""
    if offset < 0 or (length is not None and length < 0):
        raise UsageError(f"invalid byte range: offset={offset}, length={length}")
