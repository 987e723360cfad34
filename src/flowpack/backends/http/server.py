"""The starlette app of ``flowpack serve``: one store's blobs and refs over HTTP.

Routes (the full description is served at ``/openapi.json``)::

    GET    /                      an HTML page: the store's flows, runs and refs    read
    GET    /info                  capabilities, limits, and the caller's scope      read
    GET    /blobs?prefix=P        NDJSON listing, one {key,size,mtime} a line       read
    GET    /blobs/{key}           bytes; Range: bytes=A-B gives 206 (416 past end) read
    HEAD   /blobs/{key}           size (Content-Length) and x-flowpack-mtime        read
    PUT    /blobs/{key}           If-None-Match: * creates only (412 if present)    write
                                  without it: replace                               admin
    DELETE /blobs/{key}           idempotent                                        admin
    POST   /blobs:missing         {"keys": [...]} -> {"missing": [...]}             read
    GET    /refs?prefix=P         NDJSON listing, one {name,digest,size} a line     read
    GET    /refs/{name}           {name,digest,size}, ETag = the CAS token          read
    PUT    /refs/{name}           If-None-Match: * or If-Match: ETag; 412 + current write*
    DELETE /refs/{name}           If-Match: ETag; 412 + current                     write*

``write*``: a token with a ref prefix may change only refs under it.  Every upload is checked
before anything is kept: its size against the body limit, its blake3 against the key for
content-addressed keys (``packs/<hex>``, ``index/<hex>``) and against the ``x-flowpack-blake3``
header when one is sent, its length against ``Content-Length``.  Store calls run in a thread
pool; at most ``upload_slots`` bodies are buffered at once, so memory stays bounded by
``upload_slots * max_body`` for uploads and ``read_chunk`` per download in flight.  Every error
is JSON ``{"error": "<one line>", "type": "..."}``; server-side paths and backend details are
logged, never sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flowpack.backends.http.auth import Grant, TokenBook, scope_allows
from flowpack.backends.http.openapi import openapi_document
from flowpack.backends.http.wire import API_VERSION, error_body
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

if TYPE_CHECKING:
    from flowpack.backends.http.server_page import PageRenderer

__all__ = ["HttpFailure", "ServerSettings", "make_app"]

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


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    reason = {404: "no such route", 405: "method not allowed"}.get(exc.status_code, exc.detail)
    return failure_response(HttpFailure(exc.status_code, str(reason)))


async def _on_failure(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpFailure)
    return failure_response(exc)


async def _on_flowpack_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FlowpackError)
    return failure_response(translate(exc, "object"))


async def _on_internal(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return failure_response(HttpFailure(500, "internal server error", "BackendError"))


async def info(request: Request) -> Response:
    """``GET /info``: the store's capabilities, the server's limits, the caller's grant."""
    grant = authorize(request, "read")
    state = state_of(request)
    caps = state.location.capabilities
    return JSONResponse(
        {
            "api": API_VERSION,
            "capabilities": {
                "atomic_create": caps.atomic_create,
                "atomic_cas": caps.atomic_cas,
                "durable": caps.durable,
                "read_only": caps.read_only,
                "listable": caps.listable,
            },
            "max_body": state.settings.max_body,
            "scope": grant.scope,
            "prefix": grant.prefix,
        }
    )


async def openapi(request: Request) -> Response:
    """``GET /openapi.json``: the protocol's OpenAPI 3 description (no token needed)."""
    return JSONResponse(openapi_document())


def make_app(
    location: Location,
    book: TokenBook,
    settings: ServerSettings,
    pages: Mapping[str, PageRenderer] | None = None,
) -> Starlette:
    """The app serving ``location`` with the tokens of ``book`` under ``settings``, plus the
    human ``pages`` the caller adds (see :mod:`flowpack.backends.http.server_page`)."""
    from flowpack.backends.http import server_blobs, server_page, server_refs

    routes = [
        Route("/info", info, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *server_blobs.ROUTES,
        *server_refs.ROUTES,
        *server_page.ROUTES,
        *server_page.page_routes(pages or {}),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HttpFailure: _on_failure,
            HTTPException: _on_http_exception,
            FlowpackError: _on_flowpack_error,
            Exception: _on_internal,
        },
    )
    app.state.flowpack = ServerState(location, book, settings)
    return app
