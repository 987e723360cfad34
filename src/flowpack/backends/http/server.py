"""What every route of ``flowpack serve`` shares: settings, the server state, authorization,
and the translation of store errors into HTTP failures (the routes live in ``server_blobs``,
``server_refs`` and ``server_page``; the app that gathers them in :mod:`.app`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flowpack.backends.http.auth import Grant, TokenBook, scope_allows
from flowpack.backends.http.wire import error_body
from flowpack.cas.errors import (
    AlreadyExists,
    BackendError,
    CapabilityError,
    FlowpackError,
    IntegrityError,
    NotFound,
    PermissionDenied,
    TransientBackendError,
    UsageError,
)
from flowpack.cas.location import Location

__all__ = ["HttpFailure", "ServerSettings", "ServerState", "authorize", "state_of", "translate"]

log = logging.getLogger("flowpack.serve")
MIB = 1 << 20


@dataclass(frozen=True)
class ServerSettings:
    """Limits and policy of one server.

    ``anonymous`` is the scope granted to requests without a token (None: they are refused).
    """

    max_body: int = 64 * MIB
    max_json: int = 1 * MIB
    upload_slots: int = 8
    body_timeout: float = 60.0
    read_chunk: int = 16 * MIB
    anonymous: str | None = None


class HttpFailure(Exception):
    """An error response: HTTP ``status``, a one-line ``reason`` and the error's ``kind``."""

    def __init__(self, status: int, reason: str, kind: str = "UsageError", **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.kind = kind
        self.extra = extra


@dataclass
class ServerState:
    """What every handler reaches through ``request.app.state.flowpack``."""

    location: Location
    book: TokenBook
    settings: ServerSettings
    _slots: asyncio.Semaphore | None = field(default=None, repr=False)

    @property
    def slots(self) -> asyncio.Semaphore:
        """The upload slots (created in the server's event loop on first use)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.upload_slots)
        return self._slots


def state_of(request: Request) -> ServerState:
    """The server state of the app handling ``request``."""
    state: ServerState = request.app.state.flowpack
    return state


def authorize(request: Request, needed: str) -> Grant:
    """The caller's grant if it covers ``needed``; 401 without a valid token, 403 if too weak."""
    state = state_of(request)
    header = request.headers.get("authorization")
    grant: Grant | None
    if header is None:
        if state.settings.anonymous is None:
            raise HttpFailure(401, "a bearer token is required", "PermissionDenied")
        grant = Grant(id="anonymous", sha256="", scope=state.settings.anonymous)
    else:
        kind, _, presented = header.partition(" ")
        if kind.lower() != "bearer" or not presented.strip():
            raise HttpFailure(
                401, "malformed Authorization header (Bearer <token>)", "PermissionDenied"
            )
        try:
            grant = state.book.check(presented.strip())
        except UsageError:
            log.error("the token config %s is damaged", state.book.path)
            raise HttpFailure(500, "the server's token config is damaged", "BackendError") from None
        if grant is None:
            raise HttpFailure(401, "token not recognised or expired", "PermissionDenied")
    if not scope_allows(grant.scope, needed):
        raise HttpFailure(
            403,
            f"token scope {grant.scope!r} does not allow this (needs {needed!r})",
            "PermissionDenied",
        )
    return grant


def failure_response(exc: HttpFailure) -> Response:
    """The JSON error response for ``exc``."""
    headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
    body = error_body(exc.reason, exc.kind, **exc.extra)
    return Response(body, exc.status, headers=headers, media_type="application/json")


def translate(exc: FlowpackError, what: str) -> HttpFailure:
    """A store error as an HTTP failure; backend details stay in the server's log."""
    kind = type(exc).__name__
    if isinstance(exc, NotFound):
        return HttpFailure(404, f"no such {what}", "NotFound")
    if isinstance(exc, AlreadyExists):
        return HttpFailure(412, f"{what} already exists", "AlreadyExists")
    if isinstance(exc, UsageError):
        return HttpFailure(400, str(exc), kind)
    if isinstance(exc, IntegrityError):
        return HttpFailure(500, f"stored {what} is damaged: {exc}", kind)
    if isinstance(exc, CapabilityError):
        return HttpFailure(405, f"the store cannot do this: {exc}", kind)
    log.warning("backend failure on %s: %s", what, exc)
    if isinstance(exc, TransientBackendError):
        return HttpFailure(503, f"the store is unavailable ({kind}); retry", kind)
    if isinstance(exc, PermissionDenied | BackendError):
        return HttpFailure(502, f"the store failed ({kind})", "BackendError")
    return HttpFailure(500, f"the store failed ({kind})", "BackendError")


def ndjson_error(exc: FlowpackError, what: str) -> str:
    """The last line of an NDJSON listing that failed part-way (the client raises it)."""
    failure = translate(exc, what)
    return json.dumps({"error": failure.reason, "type": failure.kind}) + "\n"
