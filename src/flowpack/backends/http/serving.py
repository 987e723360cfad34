"""Running the server: the listening policy (loopback, tokens, TLS) and uvicorn.

:func:`check_listen_policy` refuses, with one line, to expose a store without authentication:
a non-loopback address needs stored tokens or an explicit anonymous scope.  Without tokens on
loopback, anonymous callers get the ``admin`` scope unless another is chosen (a developer's
own machine); once any token exists, anonymous callers get nothing unless told otherwise.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import uvicorn

from flowpack.backends.http.app import make_app
from flowpack.backends.http.auth import SCOPES, TokenBook
from flowpack.backends.http.server import ServerSettings
from flowpack.backends.http.server_page import PageRenderer
from flowpack.cas.errors import UsageError
from flowpack.cas.location import Location

__all__ = ["check_listen_policy", "is_loopback", "serve"]

log = logging.getLogger("flowpack.serve")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listen_policy(host: str, book: TokenBook, anonymous: str | None) -> str | None:
    """The anonymous scope to serve with on ``host``; :class:`UsageError` if that is unsafe.

    ``anonymous`` is the scope asked for ("none" for no anonymous access, None for the default).
    """
    if anonymous is not None and anonymous != "none" and anonymous not in SCOPES:
        raise UsageError(f"unknown anonymous scope {anonymous!r}: none, {', '.join(SCOPES)}")
    has_tokens = bool(book.grants())
    if anonymous is None:
        if has_tokens:
            return None
        if not is_loopback(host):
            raise UsageError(
                f"refusing to serve on {host} without authentication: create a token with "
                "'flowpack token create', or pass --anonymous SCOPE explicitly"
            )
        return "admin"
    return None if anonymous == "none" else anonymous


def serve(
    location: Location,
    *,
    host: str,
    port: int,
    config: Path,
    settings: ServerSettings,
    anonymous: str | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    pages: Mapping[str, PageRenderer] | None = None,
) -> None:
    """Serve ``location`` until interrupted.  Raises :class:`UsageError` for an unsafe policy
    or half a TLS configuration; :class:`MissingDependency` is the caller's (import) concern."""
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("TLS needs both --tls-cert and --tls-key")
    book = TokenBook(config)
    scope = check_listen_policy(host, book, anonymous)
    app = make_app(location, book, replace(settings, anonymous=scope), pages)
    if scope is not None:
        log.warning("anonymous callers have the %r scope", scope)
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        log_level="warning",
        timeout_keep_alive=30,
        server_header=False,
    )
