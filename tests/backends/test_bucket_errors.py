"""Vendor exceptions (real instances of the SDKs' classes) become one flowpack error each."""

from __future__ import annotations

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
)
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from gcsfs.retry import HttpError

from flowpack.backends.bucket.errors import ErrorTranslator, http_status, refused
from flowpack.cas.errors import (
    AlreadyExists,
    BackendError,
    FlowpackError,
    NotFound,
    PermissionDenied,
    TransientBackendError,
)

WHERE = "s3://bucket/p?key=***"


def boto(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


def wrapped(inner: BaseException, outer: BaseException) -> BaseException:
    """``outer`` raised from ``inner``, as fsspec translates vendor errors."""
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (boto("SlowDown", 503), TransientBackendError),
        (boto("InternalError", 500), TransientBackendError),
        (boto("ConditionalRequestConflict", 409), TransientBackendError),
        (boto("AccessDenied", 403), PermissionDenied),
        (boto("PreconditionFailed", 412), AlreadyExists),
        (boto("NoSuchKey", 404), NotFound),
        (boto("NoSuchBucket", 404), BackendError),
        (boto("InvalidArgument", 400), BackendError),
        (wrapped(boto("NoSuchKey", 404), FileNotFoundError("k")), NotFound),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), TransientBackendError),
        (NoCredentialsError(), PermissionDenied),
        (HttpError({"code": 502, "message": "bad gateway"}), TransientBackendError),
        (HttpError({"code": 429, "message": "slow down"}), TransientBackendError),
        (HttpError({"code": 401, "message": "who"}), PermissionDenied),
        (HttpResponseError(message="busy"), BackendError),
        (ResourceExistsError(message="exists"), BackendError),
        (ServiceRequestError(message="connection reset"), TransientBackendError),
        (ConnectionResetError(104, "Connection reset by peer"), TransientBackendError),
        (TimeoutError(), TransientBackendError),
        (PermissionError(13, "Forbidden"), PermissionDenied),
        (FileExistsError("k"), AlreadyExists),
        (ValueError("something else"), BackendError),
    ],
)
def test_vendor_errors_are_classified(exc: BaseException, expected: type[FlowpackError]) -> None:
    err = ErrorTranslator(WHERE).translate(exc, "store blob 'packs/aa'")
    assert type(err) is expected, (exc, err)
    assert str(err).startswith("cannot store blob 'packs/aa'")
    assert WHERE in str(err) and "\n" not in str(err)


def test_azure_statuses_are_read() -> None:
    exc = HttpResponseError(message="m")
    exc.status_code = 503
    assert http_status(exc) == 503
    assert isinstance(ErrorTranslator(WHERE).translate(exc, "x"), TransientBackendError)
    exc.status_code = 412
    assert refused(exc, 412) and not refused(exc, 404)


def test_reasons_never_carry_vendor_text_or_secrets() -> None:
    exc = boto("AccessDenied", 403)
    err = ErrorTranslator(WHERE).translate(exc, "read ref 'x'")
    assert "HTTP 403 AccessDenied" in str(err) and "m" not in str(err).split(":")[-1]
    leak = ConnectionRefusedError(111, "refused by https://user:pw@host/x?sig=SECRET&a=1")
    text = str(ErrorTranslator(WHERE).translate(leak, "read blob 'x'"))
    assert "SECRET" not in text and "pw@" not in text and "sig=***" in text


def test_flowpack_errors_pass_through() -> None:
    original = NotFound("no such thing")
    assert ErrorTranslator(WHERE).translate(original, "x") is original
