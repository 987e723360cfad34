"""The seed's S3, GCS and Azure classes with a real Prefect 1.x flow, each on its real server
(moto, fake-gcs-server, Azurite), pickled and as a script, through the command line of the
Prefect 1.x environment: registered, skipped when unchanged, and run by Prefect's runner.

The seed: "Script based storage of flows is also supported for flows stored in S3 and GCS
buckets ... The script location can also be provided when registering the flow through the
register CLI command through the --path/-p option"; for Azure, as for a key without ``-p``,
"users manually have to upload the flows to the buckets and then set a key to match"."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect1kit import register_skip_and_run, run_example, seed_example

from flowpack.cas.registry import open_location
from servers.buckets import BucketServer

CLASSES = {"s3": "S3", "gs": "GCS", "az": "Azure"}


def blobs_at(server: BucketServer, key: str) -> tuple[Any, str]:
    """The blob store of ``key``'s folder in the server's bucket, and the key's name there."""
    folder, _, name = key.rpartition("/")
    return open_location(server.store_url(server.bucket, folder)).blobs, name


@pytest.mark.parametrize("scheme", list(CLASSES))
def test_pickled(scheme: str, bucket_server_for: Any, tmp_path: Path) -> None:
    server = bucket_server_for(scheme)
    prefix = f"t/{uuid.uuid4().hex}"
    bucket = "container" if scheme == "az" else "bucket"
    source = seed_example(CLASSES[scheme], {bucket: server.bucket, "prefix": prefix})
    first, _ = register_skip_and_run(tmp_path, source, server.env(), CLASSES[scheme])
    stored = open_location(server.store_url(server.bucket, prefix)).blobs
    assert any(k.key.startswith("packs/") for k in stored.iter_keys()), "nothing in the bucket"
    assert "Registering 'example'... Done" in first


@pytest.mark.parametrize("scheme", list(CLASSES))
def test_as_a_script(scheme: str, bucket_server_for: Any, tmp_path: Path) -> None:
    """The script at the key is what runs: edited in the bucket, the next run uses it."""
    server = bucket_server_for(scheme)
    key = f"flow_path/{uuid.uuid4().hex}/in_bucket.py"
    args: dict[str, object] = {"stored_as_script": True}
    if scheme == "az":
        args.update(container=server.bucket, blob_name=key)
    else:
        args.update(bucket=server.bucket, key=key)
    source = seed_example(CLASSES[scheme], args)
    blobs, name = blobs_at(server, key)
    if scheme == "az":  # the seed's Azure uploads no script: the user places it
        blobs.put(name, source.encode(), create_only=False)
    register_skip_and_run(tmp_path, source, server.env(), CLASSES[scheme])
    assert blobs.get(name) == source.encode()
    changed = seed_example(CLASSES[scheme], args, data=[6, 7])
    blobs.put(name, changed.encode(), create_only=False)
    run_example(tmp_path, server.env(), data=[6, 7])
