"""``open_http``: open an ``http(s)://`` store URL (a ``flowpack serve``) as a Location.

Options: ``token`` (else ``$FLOWPACK_TOKEN``), ``verify`` (True, False, or a CA bundle path;
else ``$FLOWPACK_CA_BUNDLE``), ``timeout`` (seconds per request), ``max_connections``.  Opening
asks the server for ``/info`` once: an unreachable server, a rejected token or something that
is not a flowpack server fails here, with one line.  The capabilities are the served store's,
plus ``read_only`` when the token may only read.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from flowpack.cas.errors import MalformedData, UsageError
from flowpack.cas.location import Location
from flowpack.cas.protocols import Capabilities
from flowpack.cas.urls import redact

__all__ = ["ENV_CA_BUNDLE", "ENV_TOKEN", "open_http"]

ENV_TOKEN = "FLOWPACK_TOKEN"
ENV_CA_BUNDLE = "FLOWPACK_CA_BUNDLE"
_OPTIONS = {"token", "verify", "timeout", "max_connections"}


def open_http(url: str, **options: Any) -> Location:
    """Open the flowpack server at ``url`` (``http(s)://host[:port][/base]``).

    Raises :class:`UsageError` for a malformed URL, credentials in the URL, or an unknown
    option; :class:`PermissionDenied` for a rejected token; :class:`TransientBackendError` when
    the server cannot be reached; :class:`MissingDependency` (via the registry) without httpx.
    """
    unknown = set(options) - _OPTIONS
    if unknown:
        raise UsageError(f"http:// stores take no option {', '.join(sorted(unknown))}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not an http(s):// store URL: {redact(url)}")
    if parts.username or parts.password:
        raise UsageError(
            f"put no credentials in the store URL ({redact(url)}): use $FLOWPACK_TOKEN"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"an http(s):// store URL takes no query or fragment: {redact(url)}")
    from flowpack.backends.http.client import HttpBlobStore
    from flowpack.backends.http.client_refs import HttpRefStore
    from flowpack.backends.http.transport import Transport

    token = options.get("token") or os.environ.get(ENV_TOKEN) or None
    verify = options.get("verify", os.environ.get(ENV_CA_BUNDLE) or True)
    connections = int(options.get("max_connections", 16))
    transport = Transport(
        url,
        token,
        verify=verify,
        timeout=float(options.get("timeout", 60.0)),
        max_connections=connections,
    )
    try:
        capabilities = _capabilities(transport, connections)
    except BaseException:
        transport.close()
        raise
    location = Location(
        redact(url),
        HttpBlobStore(transport, capabilities),
        HttpRefStore(transport, capabilities),
    )
    location.on_close(transport.close)
    return location


def _capabilities(transport: Any, connections: int) -> Capabilities:
    response = transport.request("GET", "/info")
    try:
        doc = response.json()
        caps = doc["capabilities"]
        scope = doc["scope"]
        return Capabilities(
            atomic_create=bool(caps["atomic_create"]),
            atomic_cas=bool(caps["atomic_cas"]),
            range_reads=True,
            max_connections=connections,
            durable=bool(caps["durable"]),
            remote=True,
            read_only=bool(caps["read_only"]) or scope == "read",
            listable=bool(caps["listable"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedData(
            f"{transport.shown} is not a flowpack server (its /info did not parse)"
        ) from exc
