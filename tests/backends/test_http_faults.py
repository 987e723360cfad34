"""The client's retry policy, through a fault-injecting proxy in front of ``flowpack serve``:
idempotent calls are retried on transient failures, writes are not, a lost answer to a ref
write is reported rather than guessed, and a restarted server is reached again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowpack.backends.http.opener import open_http
from flowpack.cas.digest import Digest
from flowpack.cas.errors import TransientBackendError
from flowpack.cas.location import Location
from servers.httpserver import FlowpackServer, start_flowpack_server
from servers.proxy import FaultProxy


@pytest.fixture
def proxied(flowpack_server: FlowpackServer) -> Iterator[tuple[FaultProxy, Location]]:
    flowpack_server.wipe()
    with FaultProxy(flowpack_server.url) as proxy:
        token = flowpack_server.tokens["admin"]
        with open_http(proxy.endpoint, token=token) as location:
            proxy.reset()
            yield proxy, location


def sent(proxy: FaultProxy, method: str, part: str) -> int:
    return sum(1 for r in proxy.snapshot() if r.method == method and part in r.path)


def test_reads_are_retried_on_transient_failures(proxied: tuple[FaultProxy, Location]) -> None:
    proxy, location = proxied
    location.blobs.put("blobs/r", b"data")
    proxy.fail_next(1, 503)
    assert location.blobs.get("blobs/r") == b"data"
    assert sent(proxy, "GET", "/blobs/r") == 2
    proxy.fail_next(1, 502)
    assert [i.key for i in location.blobs.iter_keys("blobs/")] == ["blobs/r"]
    proxy.fail_next(10, 500)
    with pytest.raises(TransientBackendError, match="500"):
        location.blobs.stat("blobs/r")
    assert sent(proxy, "HEAD", "/blobs/r") == 3  # bounded attempts


def test_writes_are_not_retried(
    proxied: tuple[FaultProxy, Location], flowpack_server: FlowpackServer
) -> None:
    proxy, location = proxied
    proxy.fail_next(1, 503)
    with pytest.raises(TransientBackendError) as info:
        location.blobs.put("blobs/w", b"data")
    assert flowpack_server.tokens["admin"] not in str(info.value)
    assert sent(proxy, "PUT", "/blobs/w") == 1
    proxy.fail_next(1, 503)
    with pytest.raises(TransientBackendError):
        location.refs.compare_and_set("flows/p/f", Digest.of(b"x"), None)
    assert sent(proxy, "PUT", "/refs/flows/p/f") == 1
    assert location.refs.read("flows/p/f") is None


def test_a_lost_answer_to_a_ref_write_is_reported_not_guessed(
    proxied: tuple[FaultProxy, Location],
) -> None:
    proxy, location = proxied
    d = Digest.of(b"applied")
    proxy.drop_response_once = True
    with pytest.raises(TransientBackendError):
        location.refs.compare_and_set("flows/p/lost", d, None)
    assert sent(proxy, "PUT", "/refs/flows/p/lost") == 1
    found = location.refs.read("flows/p/lost")  # the caller re-reads and sees it applied
    assert found is not None and found[0] == d


def test_a_restarted_server_is_reached_again(tmp_path: Path) -> None:
    server = start_flowpack_server(tmp_path)
    try:
        with open_http(server.url, token=server.tokens["admin"]) as location:
            location.blobs.put("blobs/a", b"a")
            server.process.kill()
            with pytest.raises(TransientBackendError, match="failed"):
                location.blobs.get("blobs/a")
            server.process.restart()
            assert location.blobs.get("blobs/a") == b"a"  # same pool, new connections
    finally:
        server.process.stop()
