"""Translating a bucket SDK's exceptions into :mod:`flowpack.cas.errors`, once, at the edge.

The fsspec filesystems (s3fs, gcsfs, adlfs) raise built-in exceptions (``FileNotFoundError``,
``FileExistsError``, ``PermissionError``, ``OSError``) chained to the vendor's; the SDK calls made
directly raise the vendor's own (botocore ``ClientError``, gcsfs ``HttpError``, azure-core
``HttpResponseError``, aiohttp connection errors).  Both are read the same way: the exception and
its causes are searched for an HTTP status, a vendor error code and a connection failure, by the
attributes those classes carry, so this module imports no SDK.

Classification (:meth:`ErrorTranslator.translate`):

=====================================================  ======================================
found                                                  raised
=====================================================  ======================================
HTTP 404, ``FileNotFoundError``                        :class:`NotFound` (a missing bucket:
                                                       :class:`BackendError`)
HTTP 412, Azure ``BlobAlreadyExists``,                 :class:`AlreadyExists`
``FileExistsError``
HTTP 401 / 403, ``PermissionError``, missing or        :class:`PermissionDenied`
malformed credentials
HTTP 408 / 429 / 5xx, 409 conditional conflicts,       :class:`TransientBackendError`
connection failures, timeouts
anything else                                          :class:`BackendError`
=====================================================  ======================================

Messages name the action, the key and the redacted store URL, then a reason built from the
status, the vendor's error code and the exception's type, never from the vendor's free text, so
no credential or signed URL can reach an error message or a log line.
"""

from __future__ import annotations

import asyncio
import errno
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import NoReturn

from flowpack.cas.errors import (
    AlreadyExists,
    BackendError,
    FlowpackError,
    NotFound,
    PermissionDenied,
    TransientBackendError,
)
from flowpack.cas.urls import redact

__all__ = ["ErrorTranslator", "error_code", "http_status", "refused"]

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Vendor codes for a conditional write that raced another one: the request may be retried.
_TRANSIENT_CODES = frozenset(
    {"ConditionalRequestConflict", "OperationAborted", "SlowDown", "RequestTimeout"}
)
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EAGAIN,
    }
)
#: Names of vendor exception classes that mean "the connection failed or timed out".
_TRANSIENT_TYPE_NAMES = frozenset(
    {
        # botocore
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "ResponseStreamingError",
        "IncompleteReadError",
        "ProxyConnectionError",
        # aiohttp
        "ClientConnectionError",
        "ClientConnectorError",
        "ClientOSError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ClientPayloadError",
        # azure-core
        "ServiceRequestError",
        "ServiceResponseError",
        "ServiceRequestTimeoutError",
        "ServiceResponseTimeoutError",
        # requests (gcsfs maps 502 to ProxyError) and fsspec
        "ProxyError",
        "ChunkedEncodingError",
        "FSTimeoutError",
    }
)


#: Names of vendor exception classes that mean "no usable credentials".
_CREDENTIAL_TYPE_NAMES = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "ClientAuthenticationError",
        "CredentialUnavailableError",
        "AzureSigningError",
        "DefaultCredentialsError",
        "RefreshError",
    }
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception (or one of its causes) carries, if any."""
    for e in _chain(exc):
        status = _own_status(e)
        if status is not None:
            return status
    return None


def _own_status(e: BaseException) -> int | None:
    response = getattr(e, "response", None)
    if isinstance(response, Mapping):  # botocore ClientError
        meta = response.get("ResponseMetadata")
        if isinstance(meta, Mapping) and isinstance(meta.get("HTTPStatusCode"), int):
            return int(meta["HTTPStatusCode"])
    for attr in ("status_code", "status", "code"):  # azure-core, aiohttp, gcsfs HttpError
        value = getattr(e, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    return None


def refused(exc: BaseException, *statuses: int) -> bool:
    """Whether ``exc`` is the service answering with one of ``statuses`` (404 and 412 are also
    recognised in the built-in exceptions fsspec raises for them without a status)."""
    status = http_status(exc)
    if status is None:
        return (404 in statuses and isinstance(exc, FileNotFoundError)) or (
            412 in statuses and isinstance(exc, FileExistsError)
        )
    return status in statuses


def error_code(exc: BaseException) -> str | None:
    """The vendor's error code (``NoSuchBucket``, ``ConditionNotMet``...), if one is carried."""
    for e in _chain(exc):
        response = getattr(e, "response", None)
        if isinstance(response, Mapping):
            err = response.get("Error")
            if isinstance(err, Mapping) and err.get("Code"):
                return str(err["Code"])
        code = getattr(e, "error_code", None)  # azure-core
        if code:
            return str(getattr(code, "value", code))
    return None


def _is_connection_failure(exc: BaseException) -> bool:
    for e in _chain(exc):
        if type(e).__name__ in _TRANSIENT_TYPE_NAMES:
            return True
        if isinstance(e, (ConnectionError, TimeoutError, asyncio.TimeoutError)):
            return True
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNOS:
            return True
    return False


def _reason(exc: BaseException, status: int | None, code: str | None) -> str:
    parts = []
    if status is not None:
        parts.append(f"HTTP {status}")
    if code:
        parts.append(code)
    if not parts:
        root = list(_chain(exc))[-1]
        text = type(root).__name__
        if isinstance(root, OSError) and isinstance(root.strerror, str) and root.strerror:
            text += f" ({_URL.sub(lambda m: redact(m.group(0)), root.strerror)})"
        parts.append(text)
    return " ".join(parts)


class ErrorTranslator:
    """Turns whatever a bucket SDK raised into one :class:`FlowpackError` with a clear line.

    ``where`` is the store's URL, already redacted; it ends every message.
    """

    def __init__(self, where: str) -> None:
        self.where = where

    def translate(self, exc: BaseException, action: str) -> FlowpackError:
        """The flowpack error for ``exc``, raised while doing ``action`` (``store blob 'x'``)."""
        if isinstance(exc, FlowpackError):
            return exc
        status = http_status(exc)
        code = error_code(exc)
        reason = _reason(exc, status, code)
        message = f"cannot {action} in {self.where}: {reason}"
        if code in ("NoSuchBucket", "ContainerNotFound"):
            return BackendError(f"cannot {action}: the bucket of {self.where} does not exist")
        if status == 404 or isinstance(exc, FileNotFoundError):
            return NotFound(f"cannot {action} in {self.where}: not found")
        if status == 412 or code == "BlobAlreadyExists" or isinstance(exc, FileExistsError):
            return AlreadyExists(f"cannot {action} in {self.where}: it already exists")
        if status in (401, 403) or isinstance(exc, PermissionError):
            return PermissionDenied(f"{message}: the credentials were refused")
        if any(type(e).__name__ in _CREDENTIAL_TYPE_NAMES for e in _chain(exc)):
            return PermissionDenied(f"{message}: no usable credentials")
        if (
            status in _TRANSIENT_STATUS
            or (code in _TRANSIENT_CODES)
            or (status is None and _is_connection_failure(exc))
        ):
            return TransientBackendError(message)
        return BackendError(message)

    def fail(self, exc: BaseException, action: str) -> NoReturn:
        """Raise :meth:`translate` of ``exc`` from ``exc``."""
        raise self.translate(exc, action) from exc

    @contextmanager
    def edge(self, action: str) -> Iterator[None]:
        """Translate every non-flowpack exception raised inside the block."""
        try:
            yield
        except FlowpackError:
            raise
        except Exception as exc:
            self.fail(exc, action)
