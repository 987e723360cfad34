"""``flowpack serve`` against its own ``/openapi.json``, checked by schemathesis: generated
requests (valid and invalid) never crash the server, and every response matches the
description (status codes, content types, bodies).

Each operation's cases are drawn from schemathesis's strategy inside an ordinary hypothesis
test (its pytest loader ``from_fixture`` does not run under this pytest)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from servers.httpserver import FlowpackServer

OPERATIONS = [
    ("GET", "/"),
    ("GET", "/info"),
    ("GET", "/blobs"),
    ("POST", "/blobs:missing"),
    ("GET", "/blobs/{key}"),
    ("HEAD", "/blobs/{key}"),
    ("PUT", "/blobs/{key}"),
    ("DELETE", "/blobs/{key}"),
    ("GET", "/refs"),
    ("GET", "/refs/{name}"),
    ("PUT", "/refs/{name}"),
    ("DELETE", "/refs/{name}"),
]


@pytest.fixture(scope="module")
def api(flowpack_server: FlowpackServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{flowpack_server.url}/openapi.json")


def test_every_route_is_described(api: schemathesis.BaseSchema) -> None:
    described = {(op.ok().method.upper(), op.ok().path) for op in api.get_all_operations()}
    assert described == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_server_meets_its_openapi_description(
    api: schemathesis.BaseSchema, flowpack_server: FlowpackServer, method: str, path: str
) -> None:
    operation = api[path][method]
    token = flowpack_server.tokens["admin"]
    # Whether these accept a schema-valid request depends on what no schema can say: the body's
    # digest (x-flowpack-blake3, packs/<hex>), the ref's current ETag (412), and "exactly one of
    # If-None-Match and If-Match" (428).  Every other check applies to them too.
    conditional = {("PUT", "/blobs/{key}"), ("PUT", "/refs/{name}"), ("DELETE", "/refs/{name}")}
    excluded = [positive_data_acceptance] if (method, path) in conditional else []

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        case.call_and_validate(excluded_checks=excluded)

    check()
