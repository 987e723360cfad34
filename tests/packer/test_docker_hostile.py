"""Docker storage against bad registries and bad images: a damaged flows layer, a hostile
flows layer, a manifest over the limit, a registry failing in the middle of a push."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import secrets
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowfixtures import make_project
from imagekit import push_base_image

from flowpack.backends.oci.client import OCI_MANIFEST, RegistryClient
from flowpack.backends.oci.opener import open_registry_client
from flowpack.cas.errors import CorruptObject, MalformedData, TransientBackendError, UnsafePath
from flowpack.packer.script import ScriptSource, collect
from flowpack.storage import Docker
from servers.proxy import FaultProxy, Request
from servers.registry import Registry


@pytest.fixture(scope="module")
def base_image(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    return push_base_image(registry.host, tmp_path_factory.mktemp("base"), name="hostile-base")


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    (tmp_path / "docker-config").mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())


@pytest.fixture
def client(registry: Registry) -> Iterator[RegistryClient]:
    c = open_registry_client(f"oci+http://{registry.host}/any")
    yield c
    c.close()


def _built(registry: Registry, base_image: str, tmp_path: Path, repo: str) -> Docker:
    """An image of its own: a flow no other test builds, so damaging its layer harms no other."""
    storage = Docker(registry_url=f"{registry.host}/{repo}", base_image=base_image)
    project = make_project(tmp_path / "p", offset=secrets.randbelow(10**9))
    (flow,) = collect(ScriptSource.from_path(project / "flows" / "etl.py"))
    storage.add_flow(flow)
    return storage.build()


def _agent(
    storage: Docker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: object
) -> Docker:
    """The registered storage where a flow runs: its own empty store, the image by its tag."""
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "agent-store").as_uri())
    agent: Docker = pickle.loads(pickle.dumps(storage))
    agent.image_digest = None
    for name, value in kw.items():
        setattr(agent, name, value)
    return agent


def _flows_layer(client: RegistryClient, storage: Docker) -> dict[str, object]:
    repo = f"{storage.registry_url}/{storage.image_name}".split("/", 1)[1]
    found = client.get_manifest(repo, str(storage.image_tag))
    assert found is not None
    return dict(json.loads(found.raw)["layers"][-1])


def test_a_damaged_flows_layer_is_named_by_its_digest(
    registry: Registry,
    base_image: str,
    client: RegistryClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = _built(registry, base_image, tmp_path, "damaged")
    digest = str(_flows_layer(client, storage)["digest"])
    blob = registry.blob_file(digest)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    agent = _agent(storage, tmp_path, monkeypatch)
    with pytest.raises(CorruptObject) as info:
        agent.get_flow("etl")
    assert digest in str(info.value) and "\n" not in str(info.value)
    assert list((tmp_path / "agent-store").glob("packs/*")) == []


def _hostile_tar() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = b'{"flows": {}}'
        info = tarfile.TarInfo("opt/prefect/flows.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo("opt/prefect/../../../tmp/evil")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
    return gzip.compress(raw.getvalue(), mtime=0)


def test_a_hostile_flows_layer_is_refused(
    registry: Registry,
    base_image: str,
    client: RegistryClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = _built(registry, base_image, tmp_path, "hostile")
    repo = f"hostile/{storage.image_name}"
    layer = _hostile_tar()
    digest = client.upload_blob(repo, layer)
    found = client.get_manifest(repo, str(storage.image_tag))
    assert found is not None
    doc = json.loads(found.raw)
    doc["layers"][-1] = {**doc["layers"][-1], "digest": digest, "size": len(layer)}
    client.put_manifest(repo, "evil", json.dumps(doc).encode(), OCI_MANIFEST)
    agent = _agent(storage, tmp_path, monkeypatch)
    agent.image_tag = "evil"
    with pytest.raises(UnsafePath) as info:
        agent.get_flow("etl")
    assert "unsafe path" in str(info.value) and "\n" not in str(info.value)
    assert not Path("/tmp/evil").exists()


def test_an_image_manifest_over_the_limit_is_refused(
    registry: Registry, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = _built(registry, base_image, tmp_path, "limit")
    agent = _agent(storage, tmp_path, monkeypatch, registry_options={"max_manifest_size": 64})
    with pytest.raises(MalformedData, match="over the 64-byte limit"):
        agent.get_flow("etl")


def test_a_500_in_the_middle_of_a_push_leaves_no_tag(
    registry: Registry, base_image: str, client: RegistryClient, tmp_path: Path
) -> None:
    with FaultProxy(registry.endpoint) as proxy:
        uploads: list[Request] = []

        def fail_the_third_upload(rec: Request) -> None:
            if rec.method == "PUT" and "/blobs/uploads/" in rec.path:
                uploads.append(rec)
                if len(uploads) == 2:
                    proxy.before_forward = None
                    proxy.fail_next(10_000, 500)

        proxy.before_forward = fail_the_third_upload
        storage = Docker(registry_url=f"127.0.0.1:{proxy.port}/midpush", base_image=base_image)
        (flow,) = collect(ScriptSource.from_path(make_project(tmp_path / "p") / "flows" / "etl.py"))
        storage.add_flow(flow)
        with pytest.raises(TransientBackendError) as info:
            storage.build()
        proxy.fail_next(0)
    assert "\n" not in str(info.value)
    assert client.manifest_digest(f"midpush/{storage.image_name}", str(storage.image_tag)) is None
    assert client.list_tags(f"midpush/{storage.image_name}") == []
