"""Sending one rendered webhook request, without letting a rendered value escape.

The request goes straight to an httpx transport (not through ``httpx.Client``, which logs the
full URL at INFO level), so no log line carries a rendered URL, header or body.  Messages name
the method and the *unrendered* URL template, the status, and the failure's type; never the
rendered URL, a header, a response body, nor an exception's text.  Chained exceptions are
dropped (``from None``) for the same reason.  Redirects are not followed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from flowpack.cas import errors

__all__ = ["ALLOWED_KWARGS", "METHODS", "WebhookResponse", "send_request"]

METHODS = ("GET", "PATCH", "POST", "PUT")
#: The ``requests``-style keyword arguments a webhook request may use.
ALLOWED_KWARGS = frozenset(
    {"url", "headers", "params", "data", "json", "auth", "cookies", "timeout", "verify"}
)
MAX_RESPONSE = 1 << 30


@dataclass(frozen=True)
class WebhookResponse:
    """What a webhook request returned: status, headers (lowercased names) and body."""

    status_code: int
    headers: dict[str, str] = field(repr=False)
    content: bytes = field(repr=False)


def check_kwargs(kwargs: dict[str, Any], what: str) -> None:
    """Raise :class:`UsageError` unless ``kwargs`` has a ``url`` and only known arguments."""
    if not isinstance(kwargs, dict) or "url" not in kwargs:
        raise errors.UsageError(f"{what} must be a dict with at least a 'url'")
    unknown = set(kwargs) - ALLOWED_KWARGS
    if unknown:
        raise errors.UsageError(
            f"{what}: unsupported argument(s) {', '.join(sorted(unknown))}; "
            f"use {', '.join(sorted(ALLOWED_KWARGS))}"
        )


def send_request(
    method: str, rendered: dict[str, Any], shown: str, data: bytes | None = None
) -> WebhookResponse:
    """Send ``method`` with the ``rendered`` kwargs; ``shown`` is the URL template for messages.

    Raises :class:`PermissionDenied` (401, 403), :class:`NotFound` (404),
    :class:`TransientBackendError` (5xx, 408, 429, network), :class:`BackendError` (any other
    non-2xx status), :class:`UsageError` for a URL or argument httpx refuses.
    """
    import httpx

    where = f"{method} {shown}"
    try:
        request = _request(httpx, method, rendered, data)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, TypeError, ValueError):
        raise errors.UsageError(f"{where}: not a valid absolute http(s) request") from None
    timeout = float(rendered.get("timeout") or 60.0)
    request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
    verify = rendered.get("verify", True)
    if isinstance(verify, str):
        import ssl

        try:
            verify = ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError):
            raise errors.UsageError(f"{where}: cannot read the CA bundle given as verify") from None
    try:
        with httpx.HTTPTransport(retries=3, verify=verify) as transport:
            response = transport.handle_request(request)
            try:
                body = _read(response, where)
            finally:
                response.close()
    except httpx.HTTPError as exc:
        raise errors.TransientBackendError(f"{where} failed: {type(exc).__name__}") from None
    status = response.status_code
    if 200 <= status < 300:
        headers = {k.lower(): v for k, v in response.headers.items()}
        return WebhookResponse(status, headers, body)
    raise _failure(status, where)


def _request(httpx: Any, method: str, rendered: dict[str, Any], data: bytes | None) -> Any:
    headers = dict(rendered.get("headers") or {})
    auth = rendered.get("auth")
    if auth is not None:
        user, password = auth
        basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {basic}"
    content = data if data is not None else rendered.get("data")
    if isinstance(content, str):
        content = content.encode("utf-8")
    url = str(rendered["url"])
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("not absolute")
    return httpx.Request(
        method,
        url,
        params=rendered.get("params"),
        headers=headers,
        cookies=rendered.get("cookies"),
        content=content,
        json=rendered.get("json") if content is None else None,
    )


def _read(response: Any, where: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE:
            raise errors.CapabilityError(f"{where}: response larger than {MAX_RESPONSE} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _failure(status: int, where: str) -> errors.FlowpackError:
    text = f"{where}: HTTP {status}"
    if status in (401, 403):
        return errors.PermissionDenied(f"{text} (credentials rejected)")
    if status == 404:
        return errors.NotFound(f"{text} (not found)")
    if status >= 500 or status in (408, 429):
        return errors.TransientBackendError(text)
    if 300 <= status < 400:
        return errors.BackendError(f"{text} (redirects are not followed)")
    return errors.BackendError(text)
