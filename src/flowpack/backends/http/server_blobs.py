"""Blob routes of ``flowpack serve``: upload (checked before kept), ranged download, listing,
delete and the batch "which of these do you lack" call.  See :mod:`.server` for the table."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import blake3
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from flowpack.backends.http.server import (
    HttpFailure,
    authorize,
    ndjson_error,
    state_of,
    translate,
)
from flowpack.backends.http.wire import (
    BLAKE3_HEADER,
    MAX_MISSING_KEYS,
    NDJSON,
    content_hex,
    parse_range,
)
from flowpack.backends.keys import check_blob_key, check_key_prefix
from flowpack.cas.errors import FlowpackError, NotFound, UsageError
from flowpack.cas.protocols import BlobStore

__all__ = ["ROUTES", "read_body"]


def _key(request: Request) -> str:
    key = str(request.path_params["key"])
    try:
        return check_blob_key(key)
    except UsageError as exc:
        raise HttpFailure(400, str(exc), type(exc).__name__) from None


async def read_body(request: Request, limit: int) -> tuple[bytes, str]:
    """The whole request body and its blake3 hex, read as it streams in.

    413 as soon as it passes ``limit`` (or ``Content-Length`` says it will), 400 when it ends
    short of ``Content-Length`` or the client goes away, 408 when it is slower than the
    server's body timeout.  Nothing is kept on any failure.
    """
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise HttpFailure(400, "Content-Length is not a number")
    if declared is not None and int(declared) > limit:
        raise HttpFailure(413, f"body of {declared} bytes exceeds the limit of {limit}")

    async def collect() -> tuple[bytes, str]:
        buf = bytearray()
        hasher = blake3.blake3()
        try:
            async for chunk in request.stream():
                if len(buf) + len(chunk) > limit:
                    raise HttpFailure(413, f"body exceeds the limit of {limit} bytes")
                buf += chunk
                hasher.update(chunk)
        except ClientDisconnect:
            raise HttpFailure(400, "upload ended before its body was complete") from None
        if declared is not None and len(buf) != int(declared):
            raise HttpFailure(400, f"body has {len(buf)} bytes, Content-Length says {declared}")
        return bytes(buf), hasher.hexdigest()

    try:
        return await asyncio.wait_for(collect(), state_of(request).settings.body_timeout)
    except asyncio.TimeoutError:
        raise HttpFailure(408, "upload too slow: body not received in time") from None


async def put_blob(request: Request) -> Response:
    """``PUT /blobs/{key}``: create-only with ``If-None-Match: *`` (write), else replace (admin)."""
    key = _key(request)
    create_only = request.headers.get("if-none-match", "").strip() == "*"
    authorize(request, "write" if create_only else "admin")
    state = state_of(request)
    async with state.slots:
        data, got = await read_body(request, state.settings.max_body)
    named = content_hex(key)
    if named is not None and named != got:
        raise HttpFailure(
            400,
            f"digest mismatch: key names blake3:{named}, body hashes to blake3:{got}; not stored",
            "CorruptObject",
        )
    sent = request.headers.get(BLAKE3_HEADER)
    if sent is not None and sent.strip().lower() != got:
        raise HttpFailure(
            400,
            f"digest mismatch: {BLAKE3_HEADER} is {sent.strip()[:64]!r}, body hashes to "
            f"blake3:{got}; not stored",
            "CorruptObject",
        )
    try:
        await run_in_threadpool(state.location.blobs.put, key, data, create_only=create_only)
    except FlowpackError as exc:
        raise translate(exc, f"blob {key!r}") from None
    return Response(status_code=201 if create_only else 204)


async def get_blob(request: Request) -> Response:
    """``GET``/``HEAD /blobs/{key}``: the bytes (a ``Range`` gives 206; past the end, 416)."""
    key = _key(request)
    authorize(request, "read")
    blobs = state_of(request).location.blobs
    try:
        info = await run_in_threadpool(blobs.stat, key)
    except FlowpackError as exc:
        raise translate(exc, f"blob {key!r}") from None
    headers = {"accept-ranges": "bytes"}
    if info.mtime is not None:
        headers["x-flowpack-mtime"] = repr(info.mtime)
    if request.method == "HEAD":
        headers["content-length"] = str(info.size)
        return Response(status_code=200, headers=headers)
    ranged = request.headers.get("range")
    offset, length = 0, None
    if ranged is not None:
        parsed = parse_range(ranged)
        if parsed is None:
            raise HttpFailure(400, "Range must be 'bytes=START-END' or 'bytes=START-'")
        offset, length = parsed
        if offset >= info.size:
            headers["content-range"] = f"bytes */{info.size}"
            return Response(status_code=416, headers=headers)
    end = info.size if length is None else min(info.size, offset + length)
    return await _send(request, blobs, key, offset, end, info.size, headers, ranged is not None)


async def _send(
    request: Request,
    blobs: BlobStore,
    key: str,
    offset: int,
    end: int,
    size: int,
    headers: dict[str, str],
    ranged: bool,
) -> Response:
    status = 206 if ranged else 200
    chunk = state_of(request).settings.read_chunk
    if end - offset <= chunk:  # one read: a blob replaced meanwhile is never mixed
        try:
            data = await run_in_threadpool(blobs.get, key, offset, end - offset)
        except FlowpackError as exc:
            raise translate(exc, f"blob {key!r}") from None
        if ranged and not data:  # replaced by a shorter blob since the stat
            return Response(status_code=416, headers={"content-range": "bytes */*"})
        if ranged:
            headers["content-range"] = f"bytes {offset}-{offset + len(data) - 1}/{size}"
        return Response(data, status, headers=headers, media_type="application/octet-stream")
    if ranged:
        headers["content-range"] = f"bytes {offset}-{end - 1}/{size}"
    headers["content-length"] = str(end - offset)

    def pieces() -> Iterator[bytes]:
        for start in range(offset, end, chunk):
            yield blobs.get(key, start, min(chunk, end - start))

    return StreamingResponse(pieces(), status, headers, media_type="application/octet-stream")


async def delete_blob(request: Request) -> Response:
    """``DELETE /blobs/{key}``: remove it (admin); idempotent."""
    key = _key(request)
    authorize(request, "admin")
    try:
        await run_in_threadpool(state_of(request).location.blobs.delete, key)
    except FlowpackError as exc:
        raise translate(exc, f"blob {key!r}") from None
    return Response(status_code=204)


async def list_blobs(request: Request) -> Response:
    """``GET /blobs?prefix=P``: NDJSON lines ``{key,size,mtime}`` then ``{"end": N}``."""
    authorize(request, "read")
    prefix = request.query_params.get("prefix", "")
    try:
        check_key_prefix(prefix)
    except UsageError as exc:
        raise HttpFailure(400, str(exc), type(exc).__name__) from None
    blobs = state_of(request).location.blobs

    def lines() -> Iterator[str]:
        count = 0
        try:
            for info in blobs.iter_keys(prefix):
                count += 1
                yield json.dumps({"key": info.key, "size": info.size, "mtime": info.mtime}) + "\n"
        except FlowpackError as exc:
            yield ndjson_error(exc, "listing")
            return
        yield json.dumps({"end": count}) + "\n"

    return StreamingResponse(lines(), media_type=NDJSON)


async def missing_blobs(request: Request) -> Response:
    """``POST /blobs:missing`` with ``{"keys": [...]}``: the keys the store does not hold."""
    authorize(request, "read")
    state = state_of(request)
    body, _ = await read_body(request, state.settings.max_json)
    try:
        keys = json.loads(body)["keys"]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise TypeError("keys is not a list of strings")
    except (ValueError, KeyError, TypeError) as exc:
        raise HttpFailure(400, f'body must be JSON {{"keys": [...]}}: {exc}') from None
    if len(keys) > MAX_MISSING_KEYS:
        raise HttpFailure(413, f"at most {MAX_MISSING_KEYS} keys per call, got {len(keys)}")
    for key in keys:
        try:
            check_blob_key(key)
        except UsageError as exc:
            raise HttpFailure(400, str(exc), type(exc).__name__) from None
    blobs = state.location.blobs

    def lacking() -> list[str]:
        out = []
        for key in keys:
            try:
                blobs.stat(key)
            except NotFound:
                out.append(key)
        return out

    try:
        return JSONResponse({"missing": await run_in_threadpool(lacking)})
    except FlowpackError as exc:
        raise translate(exc, "blob") from None


async def blob_item(request: Request) -> Response:
    """Dispatch ``/blobs/{key}`` by method."""
    if request.method == "PUT":
        return await put_blob(request)
    if request.method == "DELETE":
        return await delete_blob(request)
    return await get_blob(request)


ROUTES = [
    Route("/blobs", list_blobs, methods=["GET"]),
    Route("/blobs:missing", missing_blobs, methods=["POST"]),
    Route("/blobs/{key:path}", blob_item, methods=["GET", "HEAD", "PUT", "DELETE"]),
]
