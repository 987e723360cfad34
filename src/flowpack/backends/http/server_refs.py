"""Ref routes of ``flowpack serve``: read, list, and compare-and-set by conditional requests.

``PUT /refs/{name}`` needs ``If-None-Match: *`` (create) or ``If-Match: <ETag>`` (move): an
unconditional change is refused with 428, so every change is a compare-and-set.  A lost race is
412 with the ref's current value (or null) in the body.  See :mod:`.server` for the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from flowpack.backends.http.server import (
    HttpFailure,
    authorize,
    ndjson_error,
    state_of,
    translate,
)
from flowpack.backends.http.server_blobs import read_body
from flowpack.backends.http.wire import (
    NDJSON,
    digest_from_json,
    digest_json,
    etag_to_token,
    token_to_etag,
)
from flowpack.cas.errors import FlowpackError, InvalidRefName, MalformedData
from flowpack.cas.protocols import RefStore
from flowpack.cas.refname import check_ref_name

__all__ = ["ROUTES"]

MAX_REF_BODY = 4096


def _name(request: Request) -> str:
    name = str(request.path_params["name"])
    try:
        return check_ref_name(name)
    except InvalidRefName as exc:
        raise HttpFailure(400, str(exc), "InvalidRefName") from None


def _refs(request: Request) -> RefStore:
    return state_of(request).location.refs


async def _current(refs: RefStore, name: str) -> dict[str, object] | None:
    try:
        found = await run_in_threadpool(refs.read, name)
    except FlowpackError:
        return None
    return None if found is None else {"name": name, **digest_json(found[0])}


async def get_ref(request: Request) -> Response:
    """``GET /refs/{name}``: ``{name, digest, size}``; the ETag is the compare-and-set token."""
    name = _name(request)
    authorize(request, "read")
    try:
        found = await run_in_threadpool(_refs(request).read, name)
    except FlowpackError as exc:
        raise translate(exc, f"ref {name!r}") from None
    if found is None:
        raise HttpFailure(404, f"no ref {name!r}", "NotFound")
    digest, token = found
    return JSONResponse(
        {"name": name, **digest_json(digest)}, headers={"etag": token_to_etag(token)}
    )


def _expected(request: Request, *, allow_create: bool) -> tuple[bool, str | None]:
    """``(ok, token)`` from the precondition headers; ok is False for a token that cannot match."""
    if_none = request.headers.get("if-none-match")
    if_match = request.headers.get("if-match")
    if allow_create and if_none is not None and if_match is None:
        if if_none.strip() != "*":
            raise HttpFailure(400, "If-None-Match must be '*' (create only)")
        return True, None
    if if_match is not None and if_none is None:
        token = etag_to_token(if_match)
        return token is not None, token
    want = "If-None-Match: * or If-Match: <ETag>" if allow_create else "If-Match: <ETag>"
    raise HttpFailure(428, f"a ref changes only by compare-and-set: send {want}")


async def put_ref(request: Request) -> Response:
    """``PUT /refs/{name}`` with ``{digest, size}``: compare-and-set; 412 + current if lost."""
    name = _name(request)
    grant = authorize(request, "write")
    if not grant.may_change_ref(name):
        raise HttpFailure(
            403, f"token may change only refs under {grant.prefix!r}", "PermissionDenied"
        )
    ok, token = _expected(request, allow_create=True)
    body, _ = await read_body(request, MAX_REF_BODY)
    try:
        new = digest_from_json(json.loads(body), "ref value")
    except ValueError as exc:  # JSONDecodeError and MalformedData are both ValueErrors
        raise HttpFailure(400, f"body must be JSON {{digest, size}}: {exc}") from None
    refs = _refs(request)
    try:
        won = ok and await run_in_threadpool(refs.compare_and_set, name, new, token)
    except FlowpackError as exc:
        raise translate(exc, f"ref {name!r}") from None
    if not won:
        current = await _current(refs, name)
        raise HttpFailure(412, f"ref {name!r} changed meanwhile", "RefConflict", current=current)
    return JSONResponse({"name": name, **digest_json(new)})


async def delete_ref(request: Request) -> Response:
    """``DELETE /refs/{name}`` with ``If-Match``: compare-and-delete; 412 + current if lost."""
    name = _name(request)
    grant = authorize(request, "write")
    if not grant.may_change_ref(name):
        raise HttpFailure(
            403, f"token may change only refs under {grant.prefix!r}", "PermissionDenied"
        )
    ok, token = _expected(request, allow_create=False)
    refs = _refs(request)
    try:
        won = (
            ok
            and token is not None
            and await run_in_threadpool(refs.compare_and_delete, name, token)
        )
    except FlowpackError as exc:
        raise translate(exc, f"ref {name!r}") from None
    if not won:
        current = await _current(refs, name)
        raise HttpFailure(412, f"ref {name!r} changed meanwhile", "RefConflict", current=current)
    return Response(status_code=204)


async def list_refs(request: Request) -> Response:
    """``GET /refs?prefix=P``: NDJSON lines ``{name, digest, size}`` then ``{"end": N}``."""
    authorize(request, "read")
    prefix = request.query_params.get("prefix", "")
    refs = _refs(request)

    def lines() -> Iterator[str]:
        count = 0
        try:
            for name, digest in refs.iter_refs(prefix):
                count += 1
                yield json.dumps({"name": name, **digest_json(digest)}) + "\n"
        except (FlowpackError, MalformedData) as exc:
            yield ndjson_error(exc, "ref listing")
            return
        yield json.dumps({"end": count}) + "\n"

    return StreamingResponse(lines(), media_type=NDJSON)


async def ref_item(request: Request) -> Response:
    """Dispatch ``/refs/{name}`` by method."""
    if request.method == "PUT":
        return await put_ref(request)
    if request.method == "DELETE":
        return await delete_ref(request)
    return await get_ref(request)


ROUTES = [
    Route("/refs", list_refs, methods=["GET"]),
    Route("/refs/{name:path}", ref_item, methods=["GET", "PUT", "DELETE"]),
]
