"""Translating what a registry answers into :mod:`flowpack.cas.errors`, once, at the edge.

HTTP statuses map as: 401 and 403 to :class:`PermissionDenied`; 404 to :class:`NotFound`;
408, 429 and 5xx to :class:`TransientBackendError`; anything else to :class:`BackendError`.
Transport failures (refused connections, timeouts, dropped connections) are transient.
Messages name the operation and the URL without its query (upload URLs carry server state)
and never a credential; the registry's own error code (``BLOB_UNKNOWN``...) is quoted.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import httpx

from flowpack.cas.errors import (
    BackendError,
    FlowpackError,
    NotFound,
    PermissionDenied,
    TransientBackendError,
)
from flowpack.cas.urls import redact

__all__ = ["shown_url", "status_error", "transport_edge"]


def shown_url(url: httpx.URL | str) -> str:
    """``url`` safe to print: no query, no fragment, no credentials."""
    u = httpx.URL(str(url))
    return redact(str(u.copy_with(query=None, fragment=None)))


def registry_codes(response: httpx.Response) -> str:
    """The registry's error codes from a JSON error body (``BLOB_UNKNOWN``), or ``""``."""
    try:
        body = json.loads(response.content[:65536] or b"{}")
        codes = [str(e.get("code", "")) for e in body.get("errors", []) if isinstance(e, dict)]
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        return ""
    return ", ".join(c[:40] for c in codes if c)


def status_error(what: str, response: httpx.Response) -> FlowpackError:
    """The flowpack error for an unexpected ``response`` to the request doing ``what``."""
    status = response.status_code
    codes = registry_codes(response)
    detail = f"HTTP {status}" + (f" {codes}" if codes else "")
    where = shown_url(response.request.url)
    message = f"registry refused to {what}: {detail} ({where})"
    if status in (401, 403):
        return PermissionDenied(f"{message}: check the credentials for this registry")
    if status == 404:
        return NotFound(message)
    if status in (408, 429) or status >= 500:
        return TransientBackendError(message)
    return BackendError(message)


@contextlib.contextmanager
def transport_edge(what: str, url: httpx.URL | str) -> Iterator[None]:
    """Turn httpx's transport errors raised inside the block into flowpack errors."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransientBackendError(f"registry timed out during {what} ({shown_url(url)})") from exc
    except httpx.TransportError as exc:
        kind = type(exc).__name__
        raise TransientBackendError(
            f"registry unreachable during {what} ({shown_url(url)}): {kind}"
        ) from exc
    except httpx.HTTPError as exc:  # InvalidURL, decoding, too many redirects...
        raise BackendError(f"registry request failed during {what}: {type(exc).__name__}") from exc
