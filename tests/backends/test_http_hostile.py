"""Bad input against a live ``flowpack serve``: every refusal is a 4xx with a one-line JSON
reason, nothing is stored, and the server keeps serving."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import blake3
import httpx
import pytest

from servers.httpserver import FlowpackServer, start_flowpack_server

HEX = blake3.blake3(b"real").hexdigest()


@pytest.fixture
def server(flowpack_server: FlowpackServer) -> Iterator[FlowpackServer]:
    flowpack_server.wipe()
    yield flowpack_server
    info = httpx.get(f"{flowpack_server.url}/info", headers=auth(flowpack_server, "read"))
    assert info.status_code == 200, "the server kept serving"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowpackServer]:
    """A server with a 1 KiB body limit and a 1 s body timeout."""
    root = tmp_path_factory.mktemp("strict")
    server = start_flowpack_server(root, "--max-body", "1024", "--body-timeout", "1")
    try:
        yield server
    finally:
        server.process.stop()


def auth(server: FlowpackServer, scope: str) -> dict[str, str]:
    return {"authorization": f"Bearer {server.tokens[scope]}"}


def stored(server: FlowpackServer) -> list[str]:
    root = server.store
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def refused(response: httpx.Response, status: int, kind: str | None = None) -> str:
    """The one-line reason of a refusal with ``status``."""
    assert response.status_code == status, (response.status_code, response.text)
    doc = response.json()
    assert isinstance(doc["error"], str) and doc["error"] and "\n" not in doc["error"]
    if kind is not None:
        assert doc["type"] == kind, doc
    return str(doc["error"])


def test_a_body_that_does_not_match_its_key_is_refused(server: FlowpackServer) -> None:
    url = f"{server.url}/blobs/packs/{HEX}"
    headers = {**auth(server, "write"), "if-none-match": "*"}
    reason = refused(httpx.put(url, content=b"fake", headers=headers), 400, "CorruptObject")
    assert HEX in reason and blake3.blake3(b"fake").hexdigest() in reason
    wrong = {**headers, "x-flowpack-blake3": HEX}
    refused(httpx.put(f"{server.url}/blobs/other/x", content=b"fake", headers=wrong), 400)
    assert stored(server) == []
    assert httpx.put(url, content=b"real", headers=headers).status_code == 201


def test_oversize_bodies_are_refused(strict: FlowpackServer) -> None:
    headers = {**auth(strict, "write"), "if-none-match": "*"}
    url = f"{strict.url}/blobs/big/declared"
    refused(httpx.put(url, content=os.urandom(4096), headers=headers), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit stops it as it streams
        for _ in range(8):
            yield os.urandom(512)

    try:
        response = httpx.put(f"{strict.url}/blobs/big/streamed", content=chunks(), headers=headers)
        refused(response, 413)
    except httpx.TransportError:
        pass  # the server may answer and close before the client finished sending
    assert not (strict.store / "big").exists()


def raw(port: int, request: bytes, wait: float = 5.0) -> bytes:
    """Send ``request`` bytes, half-close, and read what comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_a_truncated_upload_stores_nothing(strict: FlowpackServer) -> None:
    head = (
        f"PUT /blobs/cut/blob HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
        f"If-None-Match: *\r\nAuthorization: Bearer {strict.tokens['write']}\r\n\r\n"
    ).encode()
    raw(strict.process.port, head + b"x" * 500)
    time.sleep(0.2)
    assert not (strict.store / "cut").exists()
    assert httpx.get(f"{strict.url}/info", headers=auth(strict, "read")).status_code == 200


def test_a_slow_client_gets_408_and_stores_nothing(strict: FlowpackServer) -> None:
    head = (
        f"PUT /blobs/slow/blob HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
        f"If-None-Match: *\r\nAuthorization: Bearer {strict.tokens['write']}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", strict.process.port), timeout=10) as s:
        s.sendall(head + b"x" * 10)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = s.recv(65536)  # the head and the body may come in separate reads
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply[:80]
    body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert "too slow" in body["error"]
    assert not (strict.store / "slow").exists()


@pytest.mark.parametrize(
    "path",
    ["/blobs/..%2F..%2Fescape", "/blobs/a/%2E%2E/b", "/blobs/%2Fetc%2Fpasswd", "/blobs/.hidden"],
)
def test_keys_with_dots_or_absolute_paths_are_400(
    server: FlowpackServer, path: str, tmp_path: Path
) -> None:
    headers = {**auth(server, "admin"), "if-none-match": "*"}
    for method in ("PUT", "GET", "DELETE"):
        request = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
        for name, value in headers.items():
            request += f"{name}: {value}\r\n"
        reply = raw(server.process.port, (request + "Connection: close\r\n\r\nx").encode())
        assert reply.startswith(b"HTTP/1.1 400"), (method, path, reply[:200])
        body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert body["type"] in ("UnsafePath", "UsageError") and "\n" not in body["error"]
    assert stored(server) == []
    assert not (server.store.parent / "escape").exists()


def test_malformed_json_is_400(server: FlowpackServer) -> None:
    headers = auth(server, "admin")
    refused(httpx.post(f"{server.url}/blobs:missing", content=b"{", headers=headers), 400)
    refused(httpx.post(f"{server.url}/blobs:missing", json={"keys": "x"}, headers=headers), 400)
    put = {**headers, "if-none-match": "*"}
    for body in (b"not json", b'{"digest": "blake3:00", "size": 1}', b'{"digest": 1}', b"[]"):
        refused(httpx.put(f"{server.url}/refs/flows/p/f", content=body, headers=put), 400)
    assert stored(server) == []


def test_refs_change_only_by_compare_and_set(server: FlowpackServer) -> None:
    value = {"digest": f"blake3:{HEX}", "size": 4}
    url = f"{server.url}/refs/flows/p/f"
    refused(httpx.put(url, json=value, headers=auth(server, "write")), 428)
    created = httpx.put(url, json=value, headers={**auth(server, "write"), "if-none-match": "*"})
    assert created.status_code == 200
    lost = httpx.put(url, json=value, headers={**auth(server, "write"), "if-match": '"stale"'})
    refused(lost, 412, "RefConflict")
    assert lost.json()["current"]["digest"] == value["digest"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"authorization": "Basic dXNlcjpwdw=="}, 401),
        ({"authorization": "Bearer fpk_00000000_nope"}, 401),
        ("expired", 401),
        ("read", 403),
    ],
)
def test_missing_wrong_expired_or_weak_tokens(
    server: FlowpackServer, headers: dict[str, str] | str, status: int
) -> None:
    if isinstance(headers, str):
        headers = auth(server, headers)
    put = {**headers, "if-none-match": "*"}
    reason = refused(httpx.put(f"{server.url}/blobs/x/y", content=b"x", headers=put), status)
    for token in server.tokens.values():
        assert token not in reason
    assert stored(server) == []


def test_unknown_routes_and_methods_are_json(server: FlowpackServer) -> None:
    refused(httpx.get(f"{server.url}/nowhere", headers=auth(server, "read")), 404)
    refused(httpx.post(f"{server.url}/blobs/x", headers=auth(server, "read")), 405)
