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

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flowpack.backends.http import server_blobs, server_page, server_refs
from flowpack.backends.http.auth import TokenBook
from flowpack.backends.http.openapi import openapi_document
from flowpack.backends.http.server import (
    HttpFailure,
    ServerSettings,
    ServerState,
    authorize,
    failure_response,
    log,
    state_of,
    translate,
)
from flowpack.backends.http.server_page import PageRenderer
from flowpack.backends.http.wire import API_VERSION
from flowpack.cas.errors import FlowpackError
from flowpack.cas.location import Location

__all__ = ["make_app"]


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
