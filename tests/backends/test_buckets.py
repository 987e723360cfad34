"""What every bucket backend (s3://, gs://, az://) does beyond the shared suites, on real servers:
opening and configuration (URLs, the standard variables), the precondition probe, large uploads
in parts, errors without secrets, and ``flowpack copy`` to each bucket and back."""

from __future__ import annotations

import base64
import logging
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from bucketkit import make_tree, probes_left, push, read_tree, via
from click.testing import CliRunner

from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    AlreadyExists,
    BackendError,
    CapabilityError,
    PermissionDenied,
    UsageError,
)
from flowpack.cas.opening import open_store
from flowpack.cas.registry import known_schemes, open_location
from flowpack.cas.restore import restore_tree
from flowpack.cas.verify import verify
from flowpack.cli.main import cli
from servers.buckets import AZURITE_KEY, Azurite, BucketServer, use_environment_of
from servers.proxy import FaultProxy

MIB = 1 << 20


# -- opening -----------------------------------------------------------------------------


def test_every_bucket_scheme_is_registered() -> None:
    assert {"s3", "gs", "gcs", "az", "abfs"} <= set(known_schemes())


def test_a_store_round_trips_through_the_url(server: BucketServer, tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    url = server.fresh_url()
    digest = push(open_store(url, cache_dir=tmp_path / "c1"), tree)
    again = open_store(url, cache_dir=tmp_path / "c2")
    assert again.resolve("flows/p/f") == digest
    restore_tree(again, digest, tmp_path / "out")
    assert read_tree(tmp_path / "out") == read_tree(tree)
    assert verify(again, read_data=True).ok


def test_the_standard_variables_point_a_store_at_the_server(
    server: BucketServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_environment_of(server, monkeypatch)
    location = open_location(f"{server.scheme}://{server.bucket}/env/{uuid.uuid4().hex}")
    blobs, refs = location.blobs, location.refs
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
        open_location(url)
    assert "pw" not in str(info.value)


# -- preconditions --------------------------------------------------------------------------


def test_the_probe_costs_one_request_once_and_leaves_nothing(
    server: BucketServer, proxy: FaultProxy
) -> None:
    location = open_location(via(server, proxy))
    blobs, refs = location.blobs, location.refs
    assert refs.compare_and_set("flows/p/a", Digest.of(b"1"), None)
    assert refs.compare_and_set("flows/p/b", Digest.of(b"2"), None)
    again = open_location(via(server, proxy)).refs  # same endpoint and bucket: no second probe
    assert again.compare_and_set("flows/p/c", Digest.of(b"3"), None)
    writes = [r for r in proxy.snapshot() if r.is_write]
    assert len(writes) == 4, writes
    assert [r.status for r in writes[:1]] in ([404], [412])
    assert probes_left(blobs) == []
    assert refs.capabilities.atomic_cas and blobs.capabilities.atomic_create


def ignoring_url(server: BucketServer, proxy: FaultProxy, **options: str) -> str:
    """A fresh store URL through ``proxy``, which strips every precondition header."""
    proxy.strip_preconditions = True
    url = via(server, proxy, **options)
    if isinstance(server, Azurite):  # a shared key signs the If-* headers; a SAS does not
        url = url.replace(
            f"account_key={quote(AZURITE_KEY, safe='')}",
            "sas_token=" + quote(server.sas_token(), safe=""),
        )
    return url


def test_an_endpoint_ignoring_preconditions_refuses_ref_writes_without_opt_in(
    server: BucketServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    """No silent read-compare-write: refs are not changed until the URL says unsafe_refs=1."""
    url = ignoring_url(server, proxy)
    refs = open_location(url).refs
    with pytest.raises(CapabilityError) as info:
        refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
    message = str(info.value)
    assert "ignores conditional writes" in message and "unsafe_refs=1" in message
    assert "127.0.0.1" in message and "\n" not in message
    assert refs.read("flows/p/f") is None
    tree = make_tree(tmp_path / "tree", files=1, size=100)
    result = CliRunner().invoke(cli, ["--store", url, "push", str(tree), "--ref", "flows/p/f"])
    assert result.exit_code != 0
    (line,) = result.stderr.strip().splitlines()
    assert "unsafe_refs=1" in line and "flows/p/f" in line
    assert refs.read("flows/p/f") is None
    opted = open_location(url + "&unsafe_refs=1").refs
    assert opted.compare_and_set("flows/p/f", Digest.of(b"1"), None)
    assert not opted.capabilities.atomic_cas


def test_an_endpoint_ignoring_preconditions_is_detected(
    server: BucketServer, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    url = ignoring_url(server, proxy, unsafe_refs="1")
    location = open_location(url)
    blobs, refs = location.blobs, location.refs
    assert refs.capabilities.atomic_cas  # what the service promises, until probed
    with caplog.at_level(logging.WARNING, logger="flowpack.backends"):
        assert refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
        other = open_location(url.replace("/t/", "/t2/")).refs
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


# -- large uploads, errors ------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["s3", "az"])
def test_large_blobs_are_uploaded_in_parts_create_only(scheme: str, bucket_server_for: Any) -> None:
    server = bucket_server_for(scheme)
    with FaultProxy(server.endpoint) as proxy:
        blobs = open_location(via(server, proxy)).blobs
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
    blobs = open_location(server.store_url(f"fp-missing-{uuid.uuid4().hex[:8]}", "p")).blobs
    with pytest.raises(BackendError) as info:
        blobs.put("config", b"x")
    assert "fp-missing" in str(info.value)


def test_refused_credentials_are_named_without_the_secret(azurite: BucketServer) -> None:
    wrong = base64.b64encode(b"not the key" * 6).decode()
    url = azurite.store_url(azurite.bucket, "p", account_key=wrong)
    location = open_location(url)
    blobs, refs = location.blobs, location.refs
    with pytest.raises(PermissionDenied) as info:
        blobs.put("config", b"x")
    assert wrong not in str(info.value) and "account_key=***" in str(info.value)
    with pytest.raises(PermissionDenied):
        refs.read("flows/p/f")
    blobs = open_location(url.replace("account_key=", "account_key=x")).blobs  # not base64
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
        assert dict(store.refs.iter_refs("")) == pushed
    out = flowpack("--json", "copy", source, bucket)
    assert '"bytes_uploaded": 0' in out
