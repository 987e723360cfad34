"""http:// against a live ``flowpack serve`` (file:// behind it): the shared suites, 16-thread
races included, and what is particular to the protocol (scopes, tokens, capabilities)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowpack.backends.http.opener import open_http
from flowpack.cas.digest import Digest
from flowpack.cas.errors import PermissionDenied, UsageError
from flowpack.cas.location import Location
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance
from servers.httpserver import FlowpackServer


@pytest.fixture
def admin(flowpack_server: FlowpackServer) -> Iterator[Location]:
    """A fresh (wiped) store opened with the admin token."""
    flowpack_server.wipe()
    with open_http(flowpack_server.url, token=flowpack_server.tokens["admin"]) as location:
        yield location


class TestHttpBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, admin: Location) -> BlobStore:
        return admin.blobs


class TestHttpRefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self, admin: Location) -> RefStore:
        return admin.refs

    @pytest.fixture(autouse=True)
    def _served(self, flowpack_server: FlowpackServer) -> None:
        self.served = flowpack_server.store

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        path: Path = self.served / "refs" / name
        path.write_bytes(path.read_bytes().replace(b"blake3:", b"blake3:f", 1))


def test_capabilities_are_the_served_stores(admin: Location) -> None:
    caps = admin.capabilities
    assert (caps.atomic_create, caps.atomic_cas, caps.durable, caps.remote) == (
        True,
        True,
        True,
        True,
    )
    assert caps.read_only is False


def test_a_read_token_opens_read_only_and_cannot_write(flowpack_server: FlowpackServer) -> None:
    with open_http(flowpack_server.url, token=flowpack_server.tokens["read"]) as location:
        assert location.capabilities.read_only is True
        with pytest.raises(PermissionDenied, match="403"):
            location.blobs.put("blobs/r", b"x")
        with pytest.raises(PermissionDenied):
            location.refs.compare_and_set("tags/r", Digest.of(b"x"), None)
        assert location.refs.read("tags/r") is None


def test_a_write_token_creates_but_neither_replaces_nor_deletes(
    flowpack_server: FlowpackServer, admin: Location
) -> None:
    with open_http(flowpack_server.url, token=flowpack_server.tokens["write"]) as location:
        location.blobs.put("blobs/w", b"x")
        with pytest.raises(PermissionDenied):
            location.blobs.put("blobs/w", b"y", create_only=False)
        with pytest.raises(PermissionDenied):
            location.blobs.delete("blobs/w")
    assert admin.blobs.get("blobs/w") == b"x"


def test_a_prefixed_token_changes_only_its_refs(flowpack_server: FlowpackServer) -> None:
    d = Digest.of(b"team")
    with open_http(flowpack_server.url, token=flowpack_server.tokens["team"]) as location:
        assert location.refs.compare_and_set("flows/team/a", d, None)
        with pytest.raises(PermissionDenied, match="flows/team/"):
            location.refs.compare_and_set("flows/other/a", d, None)
        assert location.refs.read("flows/other/a") is None  # reading is by scope alone


@pytest.mark.parametrize("token", [None, "fpk_00000000_wrong", "expired"])
def test_missing_wrong_or_expired_tokens_are_refused(
    flowpack_server: FlowpackServer, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOWPACK_TOKEN", raising=False)
    presented = flowpack_server.tokens.get(token or "", token)
    with pytest.raises(PermissionDenied, match="401") as info:
        open_http(flowpack_server.url, **({"token": presented} if presented else {}))
    if presented:
        assert presented not in str(info.value)


def test_the_token_comes_from_the_environment(
    flowpack_server: FlowpackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_TOKEN", flowpack_server.tokens["admin"])
    with open_http(flowpack_server.url) as location:
        assert location.capabilities.read_only is False


def test_missing_reports_what_the_server_lacks(admin: Location) -> None:
    admin.blobs.put("blobs/here", b"x")
    blobs = admin.blobs
    assert blobs.missing(["blobs/here", "blobs/gone", "packs/" + "0" * 64]) == [  # type: ignore[attr-defined]
        "blobs/gone",
        "packs/" + "0" * 64,
    ]


@pytest.mark.parametrize(
    "url",
    ["http://user:pw@127.0.0.1:1", "http://127.0.0.1:1/?token=x", "ftp://127.0.0.1", "http://"],
)
def test_bad_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError) as info:
        open_http(url)
    assert "pw" not in str(info.value)


def test_unknown_options_are_refused(flowpack_server: FlowpackServer) -> None:
    with pytest.raises(UsageError, match="bogus"):
        open_http(flowpack_server.url, bogus=1)


def test_the_home_page_lists_flows_runs_and_refs(
    flowpack_server: FlowpackServer, admin: Location
) -> None:
    import httpx

    d = Digest.of(b"page")
    for name in ("flows/p/etl", "runs/etl", "tags/v1"):
        assert admin.refs.compare_and_set(name, d, None)
    token = flowpack_server.tokens["read"]
    page = httpx.get(flowpack_server.url + "/", headers={"authorization": f"Bearer {token}"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert text.index("Flows (1)") < text.index("flows/p/etl") < text.index("Runs (1)")
    assert text.index("runs/etl") < text.index("Other refs (1)") < text.index("tags/v1")
    assert str(d) in text
    assert httpx.get(flowpack_server.url + "/").status_code == 401
