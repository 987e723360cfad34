"""The distribution API as flowpack speaks it, seen through a counting proxy in front of the
real registry: HEAD before upload, cross-repository mount, chunked uploads and the 413
fallback, manifests over the size limit, damaged blobs, a 500 in the middle of an upload."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowpack.backends.oci.opener import open_oci
from flowpack.cas.errors import CorruptObject, MalformedData, NotFound, TransientBackendError
from flowpack.cas.location import Location
from servers.proxy import FaultProxy, Request
from servers.registry import Registry


@pytest.fixture(autouse=True)
def no_docker_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docker-config").mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


@pytest.fixture
def proxy(registry: Registry) -> Iterator[FaultProxy]:
    with FaultProxy(registry.endpoint) as p:
        yield p


def _open(proxy: FaultProxy, repo: str, **options: object) -> Location:
    return open_oci(f"oci+http://127.0.0.1:{proxy.port}/{repo}", **options)


def _calls(proxy: FaultProxy, method: str, part: str = "") -> list[Request]:
    return [r for r in proxy.snapshot() if r.method == method and part in r.path]


def test_a_blob_the_repository_has_is_not_sent_again(registry: Registry, proxy: FaultProxy) -> None:
    data = os.urandom(50_000)
    with _open(proxy, registry.fresh_repo()) as loc:
        loc.blobs.put("packs/a", data)
        proxy.reset()
        loc.blobs.put("packs/b", data)
        assert loc.blobs.get("packs/b") == data
    assert _calls(proxy, "HEAD", "/blobs/sha256:")  # asked first
    assert not _calls(proxy, "POST", "/blobs/uploads/")
    assert sum(r.sent for r in proxy.snapshot()) < 5_000  # only the small manifest went up


def test_cross_repository_mount(registry: Registry, proxy: FaultProxy) -> None:
    data = os.urandom(30_000)
    source = registry.fresh_repo()
    with _open(proxy, source) as loc:
        loc.blobs.put("packs/a", data)
    proxy.reset()
    with _open(proxy, registry.fresh_repo(), mount_from=source) as loc:
        loc.blobs.put("packs/a", data)
        assert loc.blobs.get("packs/a") == data
    digest = "sha256%3A" + hashlib.sha256(data).hexdigest()
    [post] = [r for r in _calls(proxy, "POST", "/blobs/uploads/") if f"mount={digest}" in r.query]
    assert post.status == 201
    assert not [r for r in _calls(proxy, "PUT", "/blobs/uploads/") if r.sent == len(data)]


def test_large_blobs_go_up_in_chunks(registry: Registry, proxy: FaultProxy) -> None:
    data = os.urandom(2_500)
    with _open(proxy, registry.fresh_repo(), monolithic_limit=1_000, chunk_size=400) as loc:
        loc.blobs.put("packs/big", data)
        assert loc.blobs.get("packs/big") == data
        assert loc.blobs.get("packs/big", 777, 1_000) == data[777:1_777]
    patches = _calls(proxy, "PATCH", "/blobs/uploads/")
    assert [r.sent for r in patches] == [400] * 6 + [100]


def test_a_refused_monolithic_upload_falls_back_to_chunks(
    registry: Registry, proxy: FaultProxy
) -> None:
    data = os.urandom(3_000)

    def refuse_the_put_after_the_first_post(rec: Request) -> None:
        if rec.method == "POST" and not _calls(proxy, "PATCH"):
            proxy.before_forward = None
            proxy.fail_next(1, 413)

    with _open(proxy, registry.fresh_repo(), chunk_size=1_024) as loc:
        loc.blobs.inner.ensure_empty_config()  # type: ignore[attr-defined]
        proxy.reset()
        proxy.before_forward = refuse_the_put_after_the_first_post
        loc.blobs.put("packs/x", data)
        assert loc.blobs.get("packs/x") == data
    assert [r.status for r in _calls(proxy, "PUT", "/blobs/uploads/")][:1] == [413]
    assert len(_calls(proxy, "PATCH", "/blobs/uploads/")) == 3


def test_a_manifest_over_the_limit_is_refused(registry: Registry) -> None:
    url = registry.fresh_url()
    with open_oci(url) as loc:
        loc.blobs.put("packs/a", b"abc")
    with (
        open_oci(url, max_manifest_size=100) as loc,
        pytest.raises(MalformedData, match="over the 100-byte limit"),
    ):
        loc.blobs.get("packs/a")


def test_a_damaged_blob_is_named_by_its_digest(registry: Registry) -> None:
    with open_oci(registry.fresh_url()) as loc:
        data = os.urandom(1400)  # bytes no other test stores: the damage stays here
        loc.blobs.put("packs/a", data)
        digest = loc.blobs.inner._locate("packs/a")[0]  # type: ignore[attr-defined]
        path = registry.blob_file(digest)
        path.write_bytes(b"X" + path.read_bytes()[1:])
        with pytest.raises(CorruptObject) as info:
            loc.blobs.get("packs/a")
    assert digest in str(info.value)
    assert "\n" not in str(info.value)


def test_a_500_in_the_middle_of_an_upload_leaves_no_tag(
    registry: Registry, proxy: FaultProxy
) -> None:
    data = os.urandom(4_000)

    def fail_from_the_second_chunk(rec: Request) -> None:
        if rec.method == "PATCH":
            proxy.before_forward = None
            proxy.fail_next(1_000, 500)

    with _open(proxy, registry.fresh_repo(), monolithic_limit=1_000, chunk_size=1_000) as loc:
        proxy.before_forward = fail_from_the_second_chunk
        with pytest.raises(TransientBackendError) as info:
            loc.blobs.put("packs/x", data)
        # The PATCH got a 500, and each retry then met the same broken registry.
        assert str(info.value).startswith("registry ") and "\n" not in str(info.value)
        assert [r.status for r in _calls(proxy, "PATCH")][:2] == [202, 500]
        proxy.fail_next(0)
        with pytest.raises(NotFound):
            loc.blobs.get("packs/x")
        assert list(loc.blobs.iter_keys()) == []
