"""One pooled httpx client per location, the protocol's error translation, and retries.

:class:`Transport` sends every request of one ``http(s)://`` location through one
``httpx.Client`` (HTTP/1.1 keep-alive, a bounded pool), adds the bearer token, retries only
idempotent calls (``GET``, ``HEAD``, ``DELETE`` and the read-only ``POST /blobs:missing``) on
transient failures with exponential backoff, and translates every failure into
:mod:`flowpack.cas.errors` exactly once, here:

========================  ===========================================================
401, 403                  :class:`PermissionDenied`
404                       :class:`NotFound`
400, 428                  the server's error type (``UnsafePath``, ``InvalidRefName``...), else
                          :class:`UsageError`; a body that failed its digest check is
                          :class:`CorruptObject`
413                       :class:`CapabilityError` (larger than the server accepts)
412                       returned to the caller (a lost race is an answer, not an error)
5xx, 408, 429, network    :class:`TransientBackendError` (``MalformedData`` when the server
                          reports a damaged stored value)
========================  ===========================================================

Messages carry the URL redacted and never the token.  Thread-safe (httpx's client is).
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from flowpack.cas import errors
from flowpack.cas.urls import redact

__all__ = ["IDEMPOTENT", "Transport"]

IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE"})
_TYPES: dict[str, type[errors.FlowpackError]] = {
    "UsageError": errors.UsageError,
    "UnsafePath": errors.UnsafePath,
    "InvalidRefName": errors.InvalidRefName,
    "InvalidDigest": errors.InvalidDigest,
    "CorruptObject": errors.CorruptObject,
    "MalformedData": errors.MalformedData,
    "CapabilityError": errors.CapabilityError,
}


class Transport:
    """Requests to one server: ``base`` URL (no trailing slash), ``token`` (or None)."""

    def __init__(
        self,
        base: str,
        token: str | None,
        *,
        verify: bool | str = True,
        timeout: float = 60.0,
        retries: int = 3,
        max_connections: int = 16,
    ) -> None:
        self.base = base.rstrip("/")
        self.shown = redact(self.base)
        self.retries = retries
        if isinstance(verify, str):  # a CA bundle: trust exactly it
            try:
                verify_arg: bool | ssl.SSLContext = ssl.create_default_context(cafile=verify)
            except (OSError, ssl.SSLError) as exc:
                raise errors.UsageError(f"cannot use CA bundle {verify!r}: {exc}") from None
        else:
            verify_arg = verify
        headers = {"user-agent": "flowpack"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.client = httpx.Client(
            headers=headers,
            verify=verify_arg,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=httpx.HTTPTransport(retries=1, verify=verify_arg),  # connect failures only
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        """Close the pooled connections; idempotent."""
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200,),
        retry: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send and read the response; a status in ``ok`` is returned, others are raised.

        ``retry`` defaults to whether ``method`` is idempotent.
        """
        retry = method in IDEMPOTENT if retry is None else retry
        attempts = self.retries if retry else 1
        for attempt in range(attempts):
            try:
                response = self._send(method, path, **kwargs)
                if response.status_code in ok:
                    return response
                raise self.failure(response, method, path)
            except errors.TransientBackendError:
                if attempt + 1 >= attempts:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """An open streaming response with status 200; retried (like an idempotent call)
        until its status line arrives, never once the caller has started reading."""
        for attempt in range(self.retries):
            cm = None
            try:
                with self._translated(method, path):
                    cm = self.client.stream(method, self.base + path, **kwargs)
                    response = cm.__enter__()
                    if response.status_code != 200:
                        response.read()
                        raise self.failure(response, method, path)
            except errors.TransientBackendError:
                if cm is not None:
                    cm.__exit__(None, None, None)
                if attempt + 1 >= self.retries:
                    raise
                time.sleep(0.05 * 2**attempt)
                continue
            except BaseException:
                if cm is not None:
                    cm.__exit__(None, None, None)
                raise
            try:
                with self._translated(method, path):
                    yield response
            finally:
                cm.__exit__(None, None, None)
            return

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self._translated(method, path):
            return self.client.request(method, self.base + path, **kwargs)

    @contextmanager
    def _translated(self, method: str, path: str) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as exc:
            raise errors.TransientBackendError(
                f"{method} {self.shown}{path} failed: {type(exc).__name__}"
            ) from None

    def failure(self, response: httpx.Response, method: str, path: str) -> errors.FlowpackError:
        """The flowpack error for an unexpected ``response``."""
        status = response.status_code
        reason, kind = _reason(response)
        where = f"{method} {self.shown}{path}"
        if status in (401, 403):
            return errors.PermissionDenied(f"{where}: {status}: {reason}")
        if status == 404:
            return errors.NotFound(f"{where}: not found")
        if kind in ("MalformedData", "CorruptObject"):
            return _TYPES[kind](f"{where}: {reason}")
        if status == 413:
            return errors.CapabilityError(f"{where}: too large for this server: {reason}")
        if status >= 500 or status in (408, 429):
            return errors.TransientBackendError(f"{where}: {status}: {reason}")
        if 400 <= status < 500:
            return _TYPES.get(kind, errors.UsageError)(f"{where}: {reason}")
        return errors.BackendError(f"{where}: unexpected status {status}")


def _reason(response: httpx.Response) -> tuple[str, str]:
    """The server's one-line reason and error type, from a JSON error body if there is one."""
    try:
        doc = json.loads(response.content)
    except ValueError:
        return response.reason_phrase or str(response.status_code), ""
    if not isinstance(doc, Mapping):
        return str(response.status_code), ""
    return str(doc.get("error", ""))[:500].replace("\n", " "), str(doc.get("type", ""))
