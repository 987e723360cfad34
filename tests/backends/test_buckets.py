"""What every bucket backend (s3://, gs://, az://) does beyond the shared suites, on real servers:
configuration from the standard variables, the precondition probe, retries and their bound,
faults (a server killed mid-push), large uploads in parts, redaction, and ``flowpack copy``."""

from __future__ import annotations

import base64
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    AlreadyExists,
    BackendError,
    NotFound,
    PermissionDenied,
    TransientBackendError,
    UsageError,
)
from flowpack.cas.opening import open_store
from flowpack.cas.protocols import BlobStore
from flowpack.cas.registry import known_schemes, open_backend
from flowpack.cas.store import Store
from flowpack.cli.main import cli
from servers.buckets import AZURITE_KEY, Azurite, BucketServer
from servers.process import free_port
from servers.proxy import FaultProxy

SCHEMES = ["s3", "gs", "az"]
MIB = 1 << 20


@pytest.fixture(params=SCHEMES)
def server(request: pytest.FixtureRequest, bucket_server_for: Any) -> BucketServer:
    found = bucket_server_for(request.param)
    assert isinstance(found, BucketServer)
    return found


@pytest.fixture
def proxy(server: BucketServer) -> Iterator[FaultProxy]:
    with FaultProxy(server.endpoint) as p:
        yield p


def via(server: BucketServer, proxy: FaultProxy, **options: str) -> str:
    """A fresh store URL whose requests go through ``proxy``."""
    return server.store_url(
        server.bucket, f"t/{uuid.uuid4().hex}", endpoint=proxy.endpoint, **options
    )


def make_tree(root: Path, files: int = 6, size: int = 200_000) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"f{i}.bin").write_bytes(os.urandom(size))
    (root / "flow.py").write_text("print('hello')\n")
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def push(store: Store, tree: Path, ref: str = "flows/p/f") -> Digest:
    digest = store.put_tree(tree).digest
    current = store.refs.get(ref)
    if current != digest:
        store.set_ref(ref, digest, expected=current, create=current is None)
    return digest


def probes_left(blobs: BlobStore) -> list[str]:
    """Objects under the store's prefix left by a precondition probe."""
    inner = blobs.inner  # type: ignore[attr-defined]
    listed = inner.ops.list(f"{inner.prefix}/")
    return [i.key for i in listed if ".flowpack-probe" in i.key]


# -- opening -----------------------------------------------------------------------------


def test_every_bucket_scheme_is_registered() -> None:
    assert {"s3", "gs", "gcs", "az", "abfs"} <= set(known_schemes())


def test_a_store_round_trips_through_the_url(server: BucketServer, tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    url = server.fresh_url()
    digest = push(open_store(url, cache_dir=tmp_path / "c1"), tree)
    again = open_store(url, cache_dir=tmp_path / "c2")
    assert again.resolve("flows/p/f") == digest
    again.get_tree(digest, tmp_path / "out")
    assert read_tree(tmp_path / "out") == read_tree(tree)
    assert again.verify(read_data=True).ok


def test_the_standard_variables_point_a_store_at_the_server(
    server: BucketServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith(("AWS_", "AZURE_", "STORAGE_EMULATOR"))]:
        monkeypatch.delenv(name)
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    blobs, refs = open_backend(f"{server.scheme}://{server.bucket}/env/{uuid.uuid4().hex}")
    blobs.put("config", b"from the environment")
    assert blobs.get("config") == b"from the environment"
    assert refs.compare_and_set("tags/t", Digest.of(b"x"), None)
    assert [n for n, _ in refs.iter_refs()] == ["tags/t"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "needs a bucket name"),
        ("s3://b/a/../c", "prefix"),
        ("s3://b/p?colour=blue", "unknown option 'colour'"),
        ("s3://b/p?region=x&region=y", "given twice"),
        ("s3://b/p?max_attempts=0", "max_attempts"),
        ("s3://user:pw@b/p", "needs a bucket name"),
        ("gs://b/p#frag", "fragment"),
        ("az://b/p?anon=maybe", "true or false"),
    ],
)
def test_malformed_urls_are_usage_errors(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        open_backend(url)
    assert "pw" not in str(info.value)


# -- preconditions --------------------------------------------------------------------------


def test_the_probe_costs_one_request_once_and_leaves_nothing(
    server: BucketServer, proxy: FaultProxy
) -> None:
    blobs, refs = open_backend(via(server, proxy))
    assert refs.compare_and_set("flows/p/a", Digest.of(b"1"), None)
    assert refs.compare_and_set("flows/p/b", Digest.of(b"2"), None)
    _, again = open_backend(via(server, proxy))  # same endpoint and bucket: no second probe
    assert again.compare_and_set("flows/p/c", Digest.of(b"3"), None)
    writes = [r for r in proxy.snapshot() if r.is_write]
    assert len(writes) == 4, writes
    assert [r.status for r in writes[:1]] in ([404], [412])
    assert probes_left(blobs) == []
    assert refs.capabilities.atomic_cas and blobs.capabilities.atomic_create


def test_an_endpoint_ignoring_preconditions_is_detected(
    server: BucketServer, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    proxy.strip_preconditions = True
    url = via(server, proxy)
    if isinstance(server, Azurite):  # a shared key signs the If-* headers; a SAS does not
        url = url.replace(
            f"account_key={quote(AZURITE_KEY, safe='')}",
            "sas_token=" + quote(server.sas_token(), safe=""),
        )
    blobs, refs = open_backend(url)
    assert refs.capabilities.atomic_cas  # what the service promises, until probed
    with caplog.at_level(logging.WARNING, logger="flowpack.backends"):
        assert refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
        _, other = open_backend(url.replace("/t/", "/t2/"))
        assert other.compare_and_set("flows/p/g", Digest.of(b"2"), None)
    warnings = [r.getMessage() for r in caplog.records if r.name == "flowpack.backends"]
    assert len(warnings) == 1 and "ignores conditional writes" in warnings[0]
    assert "\n" not in warnings[0] and "secret=testing" not in warnings[0]
    assert not refs.capabilities.atomic_cas
    assert not blobs.capabilities.atomic_create
    # Compare-and-set still compares (read, compare, write), without the atomicity.
    found = refs.read("flows/p/f")
    assert found is not None
    assert refs.compare_and_set("flows/p/f", Digest.of(b"new"), found[1])
    assert not refs.compare_and_set("flows/p/f", Digest.of(b"stale"), found[1])
    assert not refs.compare_and_set("flows/p/f", Digest.of(b"again"), None)
    assert refs.read("flows/p/f")[0] == Digest.of(b"new")  # type: ignore[index]
    assert probes_left(blobs) == []


# -- retries ----------------------------------------------------------------------------------


def test_a_500_storm_is_retried(server: BucketServer, proxy: FaultProxy) -> None:
    blobs, refs = open_backend(via(server, proxy, max_attempts="4"))
    data = os.urandom(1000)
    proxy.fail_next(3)
    blobs.put("packs/aa", data)
    assert proxy.pending_failures() == 0
    proxy.fail_next(3, status=503)
    assert blobs.get("packs/aa") == data
    proxy.fail_next(2, status=429)
    assert [i.key for i in blobs.iter_keys("packs/")] == ["packs/aa"]
    proxy.fail_next(3)
    assert refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
    proxy.fail_next(3)
    assert refs.read("flows/p/f") is not None
    statuses = [r.status for r in proxy.snapshot()]
    assert statuses.count(500) == 9 and statuses.count(503) == 3 and statuses.count(429) == 2


def test_a_storm_longer_than_the_bound_fails_cleanly(
    server: BucketServer, proxy: FaultProxy
) -> None:
    blobs, refs = open_backend(via(server, proxy, max_attempts="3"))
    proxy.fail_next(1000)
    started = time.monotonic()
    with pytest.raises(TransientBackendError) as info:
        blobs.put("packs/aa", b"x")
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "gave up after 3 attempts" in message and "HTTP 500" in message
    assert "\n" not in message and "testing" not in message.replace("secret=***", "")
    assert len(proxy.snapshot()) == 3
    proxy.reset()
    with pytest.raises(TransientBackendError):
        refs.read("flows/p/f")
    assert len(proxy.snapshot()) == 3


def test_only_transient_errors_are_retried(server: BucketServer, proxy: FaultProxy) -> None:
    blobs, _ = open_backend(via(server, proxy, max_attempts="5"))
    proxy.fail_next(5, status=403)
    with pytest.raises(PermissionDenied):
        blobs.put("packs/aa", b"x")
    assert len(proxy.snapshot()) == 1
    proxy.fail_next(0)
    proxy.reset()
    with pytest.raises(NotFound):
        blobs.get("packs/absent")
    assert len(proxy.snapshot()) == 1


def test_a_lost_response_to_a_ref_update_counts_as_done(
    server: BucketServer, proxy: FaultProxy
) -> None:
    """The server applies the write, the answer is lost: the retry's 412 is not a lost race."""
    _, refs = open_backend(via(server, proxy))
    assert refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
    token = refs.read("flows/p/f")[1]  # type: ignore[index]
    dropped: list[str] = []

    def drop_answer(rec: Any) -> None:
        if rec.is_write and not dropped:
            dropped.append(rec.path)
            proxy.drop_response_once = True

    proxy.before_forward = drop_answer
    assert refs.compare_and_set("flows/p/f", Digest.of(b"2"), token)
    assert dropped
    assert refs.read("flows/p/f")[0] == Digest.of(b"2")  # type: ignore[index]


# -- faults -----------------------------------------------------------------------------------

CRASH_POINTS = {"pack": "/packs/", "index": "/index/", "ref": "/refs/"}


@pytest.mark.parametrize(
    ("scheme", "point"), [("gs", "pack"), ("gs", "index"), ("gs", "ref"), ("az", "pack")]
)
def test_a_server_killed_mid_push(
    scheme: str,
    point: str,
    restartable_server: Callable[[str], BucketServer],
    tmp_path: Path,
) -> None:
    """Killed at the first request for a pack, the index or the ref: one clean error; after a
    restart the store verifies, and the same push completes.

    fake-gcs-server is killed with SIGKILL.  Azurite is stopped with SIGTERM: with ``--location``
    it saves its metadata only from time to time and at exit, so a SIGKILL would lose writes it
    had acknowledged, which Azure itself never does.
    """
    server = restartable_server(scheme)
    bucket = server.new_bucket()
    tree = make_tree(tmp_path / "tree")
    with FaultProxy(server.endpoint) as proxy:
        url = server.store_url(bucket, "store", endpoint=proxy.endpoint, max_attempts="3")
        store = open_store(url, cache_dir=tmp_path / "cache")
        killed: list[str] = []

        def kill(rec: Any) -> None:
            if not killed and rec.is_write and rec.names(CRASH_POINTS[point]):
                killed.append(rec.path)
                server.process.kill() if scheme == "gs" else server.process.stop()

        proxy.before_forward = kill
        with pytest.raises(TransientBackendError) as info:
            push(store, tree)
        assert killed
        assert "gave up after 3 attempts" in str(info.value) and "\n" not in str(info.value)
        proxy.before_forward = None
        server.process.start()
        after = open_store(url, cache_dir=tmp_path / "cache2")
        assert after.verify(read_data=True).ok
        assert after.refs.get("flows/p/f") is None
        digest = push(after, tree)
        assert after.verify(read_data=True, all_refs=True).ok
        assert after.resolve("flows/p/f") == digest
        after.get_tree(digest, tmp_path / "out")
        assert read_tree(tmp_path / "out") == read_tree(tree)


def test_moto_killed_mid_push_gives_a_clean_error(
    restartable_server: Callable[[str], BucketServer], tmp_path: Path
) -> None:
    """moto keeps nothing across a restart: the push fails cleanly, then completes anew."""
    server = restartable_server("s3")
    bucket = server.new_bucket()
    tree = make_tree(tmp_path / "tree")
    with FaultProxy(server.endpoint) as proxy:
        url = server.store_url(bucket, "store", endpoint=proxy.endpoint, max_attempts="2")
        store = open_store(url, cache_dir=tmp_path / "cache")
        proxy.before_forward = lambda rec: (
            server.process.kill() if rec.names("/packs/") and rec.is_write else None
        )
        with pytest.raises(TransientBackendError) as info:
            push(store, tree)
        assert "\n" not in str(info.value) and "secret=***" in str(info.value)
        proxy.before_forward = None
        server.process.start()
        server.create_bucket(bucket)
        after = open_store(url, cache_dir=tmp_path / "cache2")
        digest = push(after, tree)
        assert after.verify(read_data=True, all_refs=True).ok
        assert after.resolve("flows/p/f") == digest


def test_the_cli_reports_an_unreachable_store_in_one_line(
    server: BucketServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_CACHE", str(tmp_path / "cache"))
    dead = f"http://127.0.0.1:{free_port()}" + (
        "/devstoreaccount1" if server.scheme == "az" else ""
    )
    url = server.store_url(server.bucket, "p", endpoint=dead, max_attempts="2")
    tree = make_tree(tmp_path / "tree", files=1)
    result = CliRunner().invoke(cli, ["--store", url, "push", str(tree)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "gave up after 2 attempts" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "testing" not in result.stderr.replace("***", "")
    assert "AccountKey" not in result.stderr and AZURITE_KEY[:20] not in result.stderr


# -- large uploads, errors ------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["s3", "az"])
def test_large_blobs_are_uploaded_in_parts_create_only(scheme: str, bucket_server_for: Any) -> None:
    server = bucket_server_for(scheme)
    with FaultProxy(server.endpoint) as proxy:
        blobs, _ = open_backend(via(server, proxy))
        data = os.urandom(20 * MIB)
        blobs.put("packs/big", data)
        parts = [r for r in proxy.snapshot() if r.is_write]
        assert len(parts) >= 4, [(r.method, r.query) for r in parts]
        assert max(r.sent for r in parts) <= 8 * MIB + 4096
        with pytest.raises(AlreadyExists):
            blobs.put("packs/big", os.urandom(20 * MIB))
        assert blobs.get("packs/big") == data
        assert blobs.get("packs/big", 9 * MIB, 10) == data[9 * MIB : 9 * MIB + 10]


def test_a_missing_bucket_is_named(server: BucketServer) -> None:
    blobs, _ = open_backend(server.store_url(f"fp-missing-{uuid.uuid4().hex[:8]}", "p"))
    with pytest.raises(BackendError) as info:
        blobs.put("config", b"x")
    assert "fp-missing" in str(info.value)


def test_refused_credentials_are_named_without_the_secret(azurite: BucketServer) -> None:
    wrong = base64.b64encode(b"not the key" * 6).decode()
    url = azurite.store_url(azurite.bucket, "p", account_key=wrong)
    blobs, refs = open_backend(url)
    with pytest.raises(PermissionDenied) as info:
        blobs.put("config", b"x")
    assert wrong not in str(info.value) and "account_key=***" in str(info.value)
    with pytest.raises(PermissionDenied):
        refs.read("flows/p/f")
    blobs, _ = open_backend(url.replace("account_key=", "account_key=x"))  # not even base64
    with pytest.raises(PermissionDenied, match="no usable credentials"):
        blobs.get("config")


# -- copy ---------------------------------------------------------------------------------


def test_copy_to_each_bucket_and_back(
    server: BucketServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_CACHE", str(tmp_path / "cache"))
    source = (tmp_path / "src").as_uri()
    back = (tmp_path / "back").as_uri()
    bucket = server.fresh_url()
    local = open_store(source, cache_dir=tmp_path / "c")
    pushed = {
        "flows/p/a": push(local, make_tree(tmp_path / "a"), "flows/p/a"),
        "flows/p/b": push(local, make_tree(tmp_path / "b", files=2), "flows/p/b"),
    }

    def flowpack(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    flowpack("copy", source, bucket)
    flowpack("copy", bucket, back)
    for url in (bucket, back):
        flowpack("--store", url, "verify", "--read-data", "--all")
        store = open_store(url, cache_dir=tmp_path / "c")
        assert dict(store.refs.iter("")) == pushed
    out = flowpack("--json", "copy", source, bucket)
    assert '"bytes_uploaded": 0' in out
