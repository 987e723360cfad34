"""S3, GCS and Azure with ``stored_as_script=True`` and a ``key`` / ``blob_name``, on their real
servers, as the seed documents script storage: "flow code can change in between (or even
during) runs without needing to be reregistered"; the script at the key is what runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowpack import Flow, task
from flowpack.cas.opening import open_store
from flowpack.cas.registry import open_location
from flowpack.packer.lookup import find_registration
from flowpack.packer.register import REGISTERED, register_flow
from flowpack.packer.run import run_registration
from flowpack.packer.script import ScriptSource
from flowpack.storage import GCS, S3, Azure
from flowpack.storage.bucket import BucketStorage
from flowpack.storage.script_follow import follow_script
from servers.buckets import AZURITE_KEY, BucketServer, use_environment_of

SCRIPT = """\
from flowpack import Flow, task

@task
def value():
    return {value}

with Flow("remote") as flow:
    value()
"""


@pytest.fixture(params=["s3", "gs", "az"])
def server(
    request: pytest.FixtureRequest, bucket_server_for: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BucketServer]:
    found = bucket_server_for(request.param)
    use_environment_of(found, monkeypatch)
    yield found


def script_storage(server: BucketServer, key: str) -> BucketStorage:
    prefix = f"t/{uuid.uuid4().hex}"
    if server.scheme == "s3":
        return S3(server.bucket, key=key, stored_as_script=True, prefix=prefix)
    if server.scheme == "gs":
        return GCS(server.bucket, key=key, stored_as_script=True, prefix=prefix)
    return Azure(server.bucket, blob_name=key, stored_as_script=True, prefix=prefix)


def place(server: BucketServer, key: str, text: str) -> None:
    """What the seed's user does by hand: put the script at the key."""
    folder, _, name = key.rpartition("/")
    blobs = open_location(f"{server.scheme}://{server.bucket}/{folder}").blobs
    blobs.put(name, text.encode(), create_only=False)


def stand_in() -> Flow:
    @task
    def value() -> int:
        return 0

    with Flow("remote") as flow:
        value()
    return flow


def test_the_script_at_the_key_is_what_runs(server: BucketServer, tmp_path: Path) -> None:
    key = f"scripts/{uuid.uuid4().hex}/remote.py"
    place(server, key, SCRIPT.format(value=1))
    registry = open_store((tmp_path / "registry").as_uri(), cache_dir=tmp_path / "cache")
    storage = script_storage(server, key)
    result = register_flow(registry, stand_in(), project="default", storage=storage)
    assert result.status == REGISTERED  # read from the bucket: no local file, no upload
    files = [f.path for f in registry.get_manifest(result.bundle).files]
    assert files == ["remote.py"]
    reg = find_registration(registry, "default/remote")
    assert follow_script(registry, reg) is None  # unchanged: the registered bundle runs
    assert list(run_registration(registry, reg).result.values()) == [1]

    place(server, key, SCRIPT.format(value=2))  # edited in the bucket, not re-registered
    followed = follow_script(registry, reg)
    assert followed is not None and followed.registered == reg.bundle
    assert key.rsplit("/", 1)[-1] in followed.note and "as it is now" in followed.note
    outcome = run_registration(registry, reg, bundle=followed.bundle, notes=followed.as_meta())
    assert outcome.ok and list(outcome.result.values()) == [2]
    assert outcome.record.bundle == followed.bundle != reg.bundle
    pinned = run_registration(registry, reg)
    assert list(pinned.result.values()) == [1]


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_register_p_uploads_the_script_to_the_key(
    scheme: str, bucket_server_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = bucket_server_for(scheme)
    for name, value in found.env().items():
        monkeypatch.setenv(name, value)
    (tmp_path / "p" / ".git").mkdir(parents=True)
    script = tmp_path / "p" / "remote.py"
    script.write_text(SCRIPT.format(value=5))
    key = f"scripts/{uuid.uuid4().hex}/remote.py"
    registry = open_store((tmp_path / "registry").as_uri(), cache_dir=tmp_path / "cache")
    source = ScriptSource.from_path(script)
    register_flow(
        registry, stand_in(), project="default", storage=script_storage(found, key), source=source
    )
    folder, _, name = key.rpartition("/")
    blobs = open_location(f"{found.scheme}://{found.bucket}/{folder}").blobs
    assert blobs.get(name) == script.read_bytes()


PLANTED = f"pl4nted-{uuid.uuid4().hex}"
CONN_SECRET = "FLOWPACK_TEST_AZURE_CONN"


def connected(server: BucketServer, key: str, monkeypatch: pytest.MonkeyPatch) -> BucketStorage:
    """A script storage whose endpoint is given to it alone (no endpoint in the environment),
    with credentials the run must not find in any record: S3's in ``client_options`` (the run
    has its own, in the environment), Azure's connection string in a named secret."""
    prefix = f"t/{uuid.uuid4().hex}"
    if server.scheme == "s3":
        for name, value in server.env().items():
            if name != "AWS_ENDPOINT_URL":
                monkeypatch.setenv(name, value)
        options = {
            "endpoint_url": server.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "AKIAPLANTEDKEY",
            "aws_secret_access_key": PLANTED,
        }
        return S3(
            server.bucket, key=key, stored_as_script=True, prefix=prefix, client_options=options
        )
    if server.scheme == "gs":
        options = {"endpoint_url": server.endpoint, "token": "anon"}
        return GCS(
            server.bucket, key=key, stored_as_script=True, prefix=prefix, client_options=options
        )
    conn = server.env()["AZURE_STORAGE_CONNECTION_STRING"]
    monkeypatch.setenv(
        CONN_SECRET, conn.replace("BlobEndpoint=", f"X-Planted={PLANTED};BlobEndpoint=")
    )
    return Azure(
        server.bucket,
        connection_string_secret=CONN_SECRET,
        blob_name=key,
        stored_as_script=True,
        prefix=prefix,
    )


@pytest.mark.parametrize("scheme", ["s3", "gs", "az"])
def test_a_followed_script_connects_as_registered_and_no_secret_is_stored(
    scheme: str, bucket_server_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = bucket_server_for(scheme)
    use_environment_of(None, monkeypatch)
    key = f"scripts/{uuid.uuid4().hex}/remote.py"
    folder, _, name = key.rpartition("/")
    blobs = open_location(found.store_url(found.bucket, folder)).blobs  # the endpoint in the URL
    blobs.put(name, SCRIPT.format(value=1).encode(), create_only=False)
    registry = open_store((tmp_path / "registry").as_uri(), cache_dir=tmp_path / "cache")
    storage = connected(found, key, monkeypatch)
    register_flow(registry, stand_in(), project="default", storage=storage)
    reg = find_registration(registry, "default/remote")
    follow = registry.get_manifest(reg.digest).metadata["follow"]
    if scheme != "az":
        assert follow["args"]["client_options"]["endpoint_url"] == found.endpoint
    assert "AKIAPLANTEDKEY" not in str(follow) and PLANTED not in str(follow)

    blobs.put(name, SCRIPT.format(value=2).encode(), create_only=False)  # edited in the bucket
    followed = follow_script(registry, reg)
    assert followed is not None
    outcome = run_registration(registry, reg, bundle=followed.bundle, notes=followed.as_meta())
    assert outcome.ok and list(outcome.result.values()) == [2]

    secrets = [PLANTED.encode(), b"AKIAPLANTEDKEY", AZURITE_KEY.encode()]
    for digest, _ in registry.indexed_objects():
        data = registry.get_bytes(digest)
        assert not any(s in data for s in secrets), digest
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert not any(s in path.read_bytes() for s in secrets), path


def test_only_public_options_are_recorded() -> None:
    gcs = GCS(
        "b",
        key="k.py",
        stored_as_script=True,
        client_options={
            "endpoint_url": "https://gcs.example",
            "token": {"access_token": PLANTED},
            "session_kwargs": {"headers": {"Authorization": f"Bearer {PLANTED}", "X-Team": "a"}},
        },
    )
    assert gcs.follow_info() == {
        "kind": "bucket-script",
        "class": "GCS",
        "args": {
            "bucket": "b",
            "key": "k.py",
            "prefix": "flowpack",
            "project": None,
            "client_options": {
                "endpoint_url": "https://gcs.example",
                "session_kwargs": {"headers": {"X-Team": "a"}},
            },
        },
    }
    assert GCS("b", client_options={"token": "anon"}).follow_args()["client_options"] == {
        "token": "anon"
    }
    s3 = S3(
        "b",
        key="k.py",
        client_options={
            "endpoint_url": f"https://user:{PLANTED}@s3.example",
            "region_name": "eu-west-1",
            "aws_session_token": PLANTED,
            "config": {"proxies": {"https": f"http://proxy?sig={PLANTED}"}, "retries": 2},
        },
    )
    assert s3.follow_args()["client_options"] == {
        "region_name": "eu-west-1",
        "config": {"proxies": {}, "retries": 2},
    }
