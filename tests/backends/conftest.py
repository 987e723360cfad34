"""Fixtures for the bucket backend tests: each scheme's server, and a proxy in front of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from servers.buckets import BucketServer
from servers.proxy import FaultProxy

SCHEMES = ["s3", "gs", "az"]


@pytest.fixture(params=SCHEMES)
def server(request: pytest.FixtureRequest, bucket_server_for: Any) -> BucketServer:
    """The session's server of each bucket scheme in turn."""
    found = bucket_server_for(request.param)
    assert isinstance(found, BucketServer)
    return found


@pytest.fixture
def proxy(server: BucketServer) -> Iterator[FaultProxy]:
    """A counting, fault-injecting proxy in front of ``server``."""
    with FaultProxy(server.endpoint) as p:
        yield p
