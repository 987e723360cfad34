"""S3, GCS and Azure with ``stored_as_script=True`` and a ``key`` / ``blob_name``, on their real
servers, as the seed documents script storage: "flow code can change in between (or even
during) runs without needing to be reregistered"; the script at the key is what runs."""

from __future__ import annotations

import os
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
from servers.buckets import BucketServer

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
    for name in [n for n in os.environ if n.startswith(("AWS_", "AZURE_", "STORAGE_EMULATOR"))]:
        monkeypatch.delenv(name)
    for name, value in found.env().items():
        monkeypatch.setenv(name, value)
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
