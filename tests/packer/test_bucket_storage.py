"""The seed classes S3, GCS and Azure end to end, each on its real server: register, re-register
(skipped, nothing uploaded), run, audit; ``key`` / ``blob_name`` objects; credentials."""

from __future__ import annotations

import os
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowfixtures import expected, make_project

from flowpack import Flow, task
from flowpack.cas.errors import AlreadyExists, UsageError
from flowpack.cas.opening import open_store
from flowpack.cas.registry import open_location
from flowpack.cas.store import Store
from flowpack.cas.transfer import import_bundle
from flowpack.packer.audit import audit_flow
from flowpack.packer.lookup import FlowName
from flowpack.packer.register import REGISTERED, SKIPPED, register_flow
from flowpack.packer.run import execute, run_flow
from flowpack.packer.script import ScriptSource, collect
from flowpack.storage import GCS, S3, Azure
from flowpack.storage.bucket import BucketStorage
from servers.buckets import BucketServer, use_environment_of

SCHEMES = ["s3", "gs", "az"]


@pytest.fixture(params=SCHEMES)
def server(
    request: pytest.FixtureRequest, bucket_server_for: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BucketServer]:
    """The scheme's server, reached through the standard environment variables alone."""
    found = bucket_server_for(request.param)
    use_environment_of(found, monkeypatch)
    yield found


def storage_for(server: BucketServer, **kwargs: Any) -> BucketStorage:
    kwargs.setdefault("prefix", f"t/{uuid.uuid4().hex}")
    if server.scheme == "s3":
        return S3(server.bucket, **kwargs)
    if server.scheme == "gs":
        return GCS(server.bucket, **kwargs)
    if "key" in kwargs:
        kwargs["blob_name"] = kwargs.pop("key")
    kwargs.pop("local_script_path", None)
    return Azure(server.bucket, **kwargs)


def objects(server: BucketServer, prefix: str) -> list[str]:
    blobs = open_location(f"{server.scheme}://{server.bucket}/{prefix}").blobs
    return [info.key for info in blobs.iter_keys()]


def simple_flow(name: str, value: int) -> Flow:
    @task
    def produce() -> int:
        return value

    with Flow(name) as flow:
        produce()
    return flow


def test_register_reregister_run_audit(server: BucketServer, tmp_path: Path) -> None:
    root = make_project(tmp_path / "project")
    source = ScriptSource.from_path(root / "flows" / "etl.py")
    (flow,) = collect(source)
    storage = storage_for(server, stored_as_script=True)
    registry = open_store(storage.store_url(), cache_dir=tmp_path / "cache")

    first = register_flow(registry, flow, project="demo", storage=storage, source=source)
    assert (first.status, first.version, first.storage) == (REGISTERED, 1, type(storage).__name__)
    assert storage.store is registry  # the registry is the bucket's store: nothing copied

    again_storage = storage_for(server, stored_as_script=True, prefix=storage.prefix)
    again_registry = open_store(storage.store_url(), cache_dir=tmp_path / "cache2")
    again = register_flow(
        again_registry, flow, project="demo", storage=again_storage, source=source
    )
    assert (again.status, again.bytes_uploaded, again.bundle) == (SKIPPED, 0, first.bundle)

    outcome = run_flow(again_registry, "demo/etl")
    assert outcome.ok, outcome.exception
    assert list(outcome.result.values())[-1] == expected()
    report = audit_flow(again_registry, FlowName("demo", "etl"))
    assert report.problems == []
    assert [r.bundle for r in report.registrations] == [first.bundle]
    assert len(report.runs) == 1
    keys = objects(server, storage.prefix)
    assert {k.split("/")[0] for k in keys} == {"config", "packs", "index"}


def test_a_separate_registry_gets_a_copy(server: BucketServer, tmp_path: Path) -> None:
    storage = storage_for(server)
    registry = open_store((tmp_path / "registry").as_uri(), cache_dir=tmp_path / "cache")
    result = register_flow(registry, simple_flow("pickled", 7), project="demo", storage=storage)
    assert result.status == REGISTERED
    assert storage.store is not registry
    assert storage.store.has(result.bundle) and registry.has(result.bundle)
    outcome = run_flow(registry, "demo/pickled")
    assert outcome.ok and list(outcome.result.values()) == [7]


def test_add_flow_writes_an_export_at_the_key(server: BucketServer, tmp_path: Path) -> None:
    key = f"exports/{uuid.uuid4().hex}/pickled.flowpack"
    storage = storage_for(server, key=key)
    assert storage.add_flow(simple_flow("pickled", 3)) == key  # the seed's location
    location = storage.digest_of("pickled")
    assert location.startswith("blake3:")
    assert storage.build() is storage
    folder, _, name = key.rpartition("/")
    blobs = open_location(f"{server.scheme}://{server.bucket}/{folder}").blobs
    export = blobs.get(name)
    exported = tmp_path / "flow.pack"
    exported.write_bytes(export)
    local = open_store((tmp_path / "local").as_uri(), cache_dir=None)
    assert str(import_bundle(local, exported)) == location

    # The same flow again: the object at the key is left as it is.
    before = blobs.stat(name)
    storage_for(server, key=key, prefix=storage.prefix).add_flow(simple_flow("pickled", 3))
    assert blobs.stat(name) == before

    # A storage whose store lacks the bundle imports it from the key.
    elsewhere = storage_for(server, key=key)
    elsewhere.flows["pickled"] = location
    assert list(execute(elsewhere.get_flow("pickled"), {}).values()) == [3]


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_script_mode_uploads_the_local_script(
    scheme: str, bucket_server_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = bucket_server_for(scheme)
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    root = make_project(tmp_path / "project")
    script = root / "flows" / "etl.py"
    key = f"scripts/{uuid.uuid4().hex}/etl.py"
    storage = storage_for(server, key=key, stored_as_script=True, local_script_path=str(script))
    (flow,) = collect(ScriptSource.from_path(script))
    location = storage.add_flow(flow)
    folder, _, name = key.rpartition("/")
    blobs = open_location(f"{server.scheme}://{server.bucket}/{folder}").blobs
    assert blobs.get(name) == script.read_bytes()
    assert list(execute(storage.get_flow(location), {}).values())[-1] == expected()


def test_azure_refuses_to_overwrite_a_different_blob(
    azurite: BucketServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("MY_AZURE_CONN", azurite.env()["AZURE_STORAGE_CONNECTION_STRING"])
    name = f"flows/{uuid.uuid4().hex}.flowpack"
    blobs = open_location(azurite.store_url(azurite.bucket, "flows")).blobs
    blobs.put(name.split("/")[1], b"someone else's flow")
    storage = Azure(azurite.bucket, connection_string_secret="MY_AZURE_CONN", blob_name=name)
    with pytest.raises(AlreadyExists, match=r"already exists with other content.*overwrite=True"):
        storage.add_flow(simple_flow("az", 1))
    assert blobs.get(name.split("/")[1]) == b"someone else's flow"
    replacing = Azure(
        azurite.bucket, connection_string_secret="MY_AZURE_CONN", blob_name=name, overwrite=True
    )
    replacing.add_flow(simple_flow("az", 1))
    assert blobs.get(name.split("/")[1]).startswith(b"FPACK001")  # now the export
    assert "AccountKey" not in repr(pickle.dumps(replacing))


def test_azure_names_a_missing_secret_without_any_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSING_CONN", raising=False)
    storage = Azure("container", connection_string_secret="MISSING_CONN")
    with pytest.raises(UsageError, match=r"'MISSING_CONN'.*not set"):
        storage.store  # noqa: B018


def test_s3_client_options_give_the_endpoint_and_credentials(
    moto_server: BucketServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    storage = S3(
        moto_server.bucket,
        client_options={
            "endpoint_url": moto_server.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        },
        upload_options={"ServerSideEncryption": "AES256"},
        prefix=f"t/{uuid.uuid4().hex}",
    )
    location = storage.add_flow(simple_flow("s3opts", 5))
    assert isinstance(storage.store, Store)
    assert list(execute(storage.get_flow(location), {}).values()) == [5]
    assert storage.store_url() == f"s3://{moto_server.bucket}/{storage.prefix}"


def test_gcs_takes_a_project(
    fake_gcs_server: BucketServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs_server.endpoint)
    storage = GCS(fake_gcs_server.bucket, project="billing-project", prefix=f"t/{uuid.uuid4().hex}")
    assert storage.storage_options() == {"project": "billing-project"}
    location = storage.add_flow(simple_flow("gcs", 9))
    assert list(execute(storage.get_flow(location), {}).values()) == [9]


def test_seed_arguments_are_kept() -> None:
    s3 = S3("b", key="k", stored_as_script=True, local_script_path="f.py", labels=["x"])
    assert (s3.bucket, s3.key, s3.stored_as_script, s3.local_script_path) == (
        "b",
        "k",
        True,
        "f.py",
    )
    assert s3.labels == ["x"] and s3.store_url() == "s3://b/flowpack"
    gcs = GCS("b", key="k", project="p", prefix="")
    assert (gcs.project, gcs.store_url()) == ("p", "gs://b")
    az = Azure("c", connection_string_secret="S", blob_name="n", overwrite=True)
    assert (az.container, az.blob_name, az.overwrite, az.key) == ("c", "n", True, "n")
    assert az.connection_string_secret == "S" and az.store_url() == "az://c/flowpack"
    with pytest.raises(UsageError):
        S3("")
