"""Parsing ``oci+https://host[:port]/repo`` store URLs into a :class:`RegistryRef`.

Plain HTTP is allowed for a registry on the loopback interface (``127.0.0.1``, ``localhost``,
``::1``), as Docker allows; elsewhere it needs ``insecure=True``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flowpack.cas.errors import UsageError
from flowpack.cas.urls import redact

__all__ = ["LOOPBACK", "RegistryRef", "parse_registry_url", "repository_name"]

SCHEMES = ("oci+http", "oci+https")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: The distribution spec's repository name grammar.
_REPO = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
_HOST = re.compile(r"^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:]+\]$")


@dataclass(frozen=True)
class RegistryRef:
    """Where a store lives: ``base`` (``https://host:port``), ``host`` and ``repository``."""

    scheme: str
    host: str
    port: int | None
    repository: str

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port else host

    @property
    def base(self) -> str:
        """``http(s)://host[:port]``, the registry's root URL."""
        return f"{self.scheme}://{self.netloc}"

    @property
    def url(self) -> str:
        """The store URL (no credentials: they never appear in it)."""
        return f"oci+{self.scheme}://{self.netloc}/{self.repository}"

    @property
    def loopback(self) -> bool:
        return self.host.lower() in LOOPBACK


def repository_name(name: str, *, what: str = "repository") -> str:
    """Return ``name`` if it is a valid repository name, else raise :class:`UsageError`."""
    if not name or len(name) > 255 or not _REPO.match(name):
        raise UsageError(
            f"invalid {what} name {name[:80]!r}: lowercase letters and digits, separated by"
            " '.', '_', '__', '-' or '/'"
        )
    return name


def parse_registry_url(url: str, *, insecure: bool = False) -> RegistryRef:
    """Parse an ``oci+http(s)://host[:port]/repo`` URL.

    Raises :class:`UsageError` for another scheme, credentials in the URL (pass them as options
    or through ``~/.docker/config.json``), a missing or malformed repository, a query or
    fragment, and ``oci+http://`` to a non-loopback host without ``insecure``.
    """
    shown = redact(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid registry URL {shown}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UsageError(f"not a registry URL: {shown} (expected oci+https://host/repository)")
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"credentials do not belong in a registry URL ({shown}): pass username= and"
            " password=, or log in so that ~/.docker/config.json holds them"
        )
    host = parts.hostname or ""
    if not host or not _HOST.match(parts.netloc.rsplit(":", 1)[0] if port else parts.netloc):
        raise UsageError(f"invalid registry URL {shown}: no host")
    if parts.query or parts.fragment:
        raise UsageError(f"invalid registry URL {shown}: no query or fragment is allowed")
    repo = repository_name(parts.path.strip("/"))
    ref = RegistryRef(scheme.removeprefix("oci+"), host, port, repo)
    if ref.scheme == "http" and not ref.loopback and not insecure:
        raise UsageError(
            f"refusing plain HTTP to {ref.netloc}: only a registry on 127.0.0.1 or localhost"
            " speaks HTTP unless the store is opened with insecure=True or the host is listed in"
            " $FLOWPACK_INSECURE_REGISTRIES"
        )
    return ref
