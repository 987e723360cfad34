"""A bucket's local caches belong to the store they were made for: a bucket emptied and made
again under the same URL, or one URL resolved against another endpoint, never reuses the first
store's cached config (pushes then write their own, and the store verifies clean)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowpack.cas.config import load_config
from flowpack.cas.opening import open_store
from flowpack.cas.tree import SourceFile
from flowpack.cas.verify import verify
from servers.buckets import BucketServer, start_server


def push(url: str, cache: Path, text: bytes) -> str:
    """Push one file to ``url`` with the local cache ``cache``; the store's id after it."""
    with open_store(url, cache_dir=cache) as store:
        store.set_ref("flows/a", store.put_files([SourceFile.from_bytes("a", text)]).digest)
        cfg = load_config(store.blobs)
        assert cfg is not None and store.config == cfg
        report = verify(store, all_refs=True, read_data=True)
        assert report.ok, report
        assert store.read_file(store.resolve("flows/a"), "a") == text
        return cfg.store_id


@pytest.fixture
def second_moto() -> Iterator[BucketServer]:
    server = start_server("s3")
    yield server
    server.process.stop()


def test_a_bucket_deleted_and_created_again_under_the_same_url(
    moto_server: BucketServer, tmp_path: Path
) -> None:
    url, cache = moto_server.store_url(moto_server.new_bucket(), "p"), tmp_path / "cache"
    first = push(url, cache, b"one\n")
    with open_store(url, cache_dir=None) as store:  # empty the bucket: a new store
        for info in list(store.blobs.iter_keys("")):
            store.blobs.delete(info.key)
        store.refs.delete("flows/a")
    assert push(url, cache, b"two\n") != first


def test_one_url_used_with_another_endpoint(
    moto_server: BucketServer,
    second_moto: BucketServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``s3://b/p`` with the endpoint in the environment: two services, two stores (neither
    empty), and one cache that sees both must tell them apart."""
    bucket = moto_server.new_bucket()
    second_moto.create_bucket(bucket)
    steps = [(second_moto, "other"), (moto_server, "cache"), (second_moto, "cache")]
    ids = []
    for server, cache in [*steps, (moto_server, "cache")]:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        ids.append(push(f"s3://{bucket}/p", tmp_path / cache, b"same\n"))
    assert ids[0] != ids[1] and ids[0] == ids[2] and ids[1] == ids[3]
