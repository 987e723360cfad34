"""Bucket store URLs: ``s3://bucket/prefix``, ``gs://bucket/prefix``, ``az://container/prefix``.

The path after the bucket is the store's prefix inside it (any number of key segments, or none).
A query string carries options for the adapter, each one a name the adapter lists (an unknown
name is a :class:`UsageError`, so a typo never passes silently)::

    s3://flows/team-a?endpoint_url=http://127.0.0.1:9000&region=eu-west-1&max_attempts=3

Options common to every bucket adapter:

``max_attempts``
    how many times a request failing transiently is tried (default 5);
``retry_deadline``
    the seconds after which no retry is started (default 60);
``connections``
    the most requests the store runs at once (default 8);
``unsafe_refs``
    ``1`` to accept changing refs on an endpoint that ignores conditional writes (found by
    the precondition probe, :mod:`flowpack.backends.bucket.probe`).  Without it such an
    endpoint refuses every ref change; with it a change is read, compared, written and read
    back, which is not atomic: two concurrent writers may both succeed and one update is
    lost.  The location then declares ``atomic_cas=False`` (the core warns, see
    :mod:`flowpack.cas.guards`).

Errors quote the URL redacted (:func:`flowpack.cas.urls.redact`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from flowpack.backends.keys import check_blob_key
from flowpack.backends.retrying import RetryPolicy
from flowpack.cas.errors import UsageError
from flowpack.cas.urls import redact

__all__ = ["COMMON_OPTIONS", "BucketUrl", "parse_bucket_url"]

COMMON_OPTIONS = frozenset({"max_attempts", "retry_deadline", "connections", "unsafe_refs"})
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,221}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class BucketUrl:
    """A parsed bucket URL: scheme, bucket, prefix (no leading or trailing slash) and options."""

    scheme: str
    bucket: str
    prefix: str
    redacted: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def object_prefix(self) -> str:
        """The prefix of the store's object names, ``""`` or ending in ``/``."""
        return f"{self.prefix}/" if self.prefix else ""

    def text(self, name: str) -> str | None:
        """Option ``name`` as given, or None."""
        return self.options.get(name)

    def flag(self, name: str) -> bool | None:
        """Option ``name`` as a boolean (``true``/``false``, ``1``/``0``...), or None."""
        value = self.options.get(name)
        if value is None:
            return None
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise UsageError(f"option {name}={value!r} in {self.redacted} is not true or false")

    def number(self, name: str, minimum: float = 1) -> float | None:
        """Option ``name`` as a number of at least ``minimum``, or None."""
        value = self.options.get(name)
        if value is None:
            return None
        try:
            out = float(value)
        except ValueError:
            out = minimum - 1
        if not out >= minimum:
            raise UsageError(f"option {name}={value!r} in {self.redacted} must be >= {minimum}")
        return out

    def retry_policy(self) -> RetryPolicy:
        """The retry bound the common options ask for."""
        default = RetryPolicy()
        attempts = self.number("max_attempts")
        deadline = self.number("retry_deadline", minimum=0.001)
        return RetryPolicy(
            attempts=int(attempts) if attempts is not None else default.attempts,
            deadline=deadline if deadline is not None else default.deadline,
        )

    def connections(self, default: int = 8) -> int:
        """The concurrency the ``connections`` option asks for."""
        value = self.number("connections")
        return int(value) if value is not None else default


def parse_bucket_url(url: str, schemes: Collection[str], options: Collection[str]) -> BucketUrl:
    """Parse ``url`` of one of ``schemes``; the query may hold ``options`` and the common ones.

    Raises :class:`UsageError` (quoting the URL redacted) for another scheme, a missing or
    malformed bucket name, a prefix that is not a valid key path, a fragment, a repeated
    option or an unknown one.
    """
    shown = redact(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UsageError(f"malformed store URL {shown}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        want = " or ".join(f"{s}://" for s in sorted(schemes))
        raise UsageError(f"not a {want} URL: {shown}")
    bucket = parts.netloc
    if "@" in bucket or not _BUCKET.match(bucket):
        raise UsageError(
            f"store URL {shown} needs a bucket name after {scheme}:// "
            "(letters, digits, '.', '_' and '-', no credentials)"
        )
    if parts.fragment:
        raise UsageError(f"store URL {shown} must not have a #fragment")
    prefix = parts.path.strip("/")
    if prefix:
        try:
            check_blob_key(prefix)
        except UsageError:
            raise UsageError(
                f"the prefix {prefix!r} in {shown} must be segments of letters, digits, '.', "
                "'_' and '-', without empty, '.' or '..' segments"
            ) from None
    allowed = set(options) | COMMON_OPTIONS
    found: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if name not in allowed:
            raise UsageError(
                f"unknown option {name!r} in {shown}; known options: " + ", ".join(sorted(allowed))
            )
        if name in found:
            raise UsageError(f"option {name!r} is given twice in {shown}")
        found[name] = value
    return BucketUrl(scheme, bucket, prefix, shown, found)
