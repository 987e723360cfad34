"""The Docker seed class, daemonless, on the distribution registry: a base image pushed with
skopeo, flows added, the image assembled and pushed, read back with skopeo, checked layer by
layer, built twice to the same digest, health-checked on its unpacked layers, and loaded
back by ``get_flow`` from the flows layer alone."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowfixtures import make_project
from imagekit import pull_image, push_base_image, tar_entries

from flowpack.backends.oci.opener import open_registry_client
from flowpack.cas.errors import CapabilityError, CorruptObject, FlowError
from flowpack.packer.layers import read_layer_file, unpack_layer
from flowpack.packer.run import execute
from flowpack.packer.script import ScriptSource, collect
from flowpack.storage import Docker
from flowpack.storage.docker_spec import slugify
from servers.proxy import FaultProxy
from servers.registry import Registry


@pytest.fixture(scope="module")
def base_image(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    return push_base_image(registry.host, tmp_path_factory.mktemp("base"))


@pytest.fixture(autouse=True)
def _no_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    (tmp_path / "docker-config").mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def _flow(root: Path, offset: int = 1) -> object:
    project = make_project(root, offset=offset)
    (flow,) = collect(ScriptSource.from_path(project / "flows" / "etl.py"))
    return flow


def _storage(registry: Registry, base_image: str, module: Path, **kw: object) -> Docker:
    return Docker(
        registry_url=f"{registry.host}/team",
        base_image=base_image,
        env_vars={"GREETING": "hello", "PYTHONPATH": "$PYTHONPATH:/modules"},
        files={str(module): "/modules/mod1.py"},
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def built(
    registry: Registry, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Docker, Path]]:
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())
    module = tmp_path / "mod1.py"
    module.write_text("VALUE = 1\n")
    storage = _storage(registry, base_image, module)
    storage.add_flow(_flow(tmp_path / "project"))
    storage.build()
    yield storage, module


def test_the_image_holds_the_flows_files_and_env(
    built: tuple[Docker, Path], tmp_path: Path
) -> None:
    storage, _ = built
    assert storage.flows == {"etl": "/opt/prefect/flows/etl.prefect"}  # the seed's location
    digest = storage.digest_of("etl")
    assert storage.image_name == "etl"
    assert storage.image_tag == "blake3-" + digest.split(":")[1]
    manifest, config, layers = pull_image(storage.image_reference, tmp_path / "pulled")
    assert len(layers) == 4  # base, flowpack, files, flows
    env = dict(e.split("=", 1) for e in config["config"]["Env"])
    assert env["GREETING"] == "hello"
    assert env["PYTHONPATH"] == "/opt/prefect/lib:/opt/prefect/site-packages:/base:/modules"
    assert env["PREFECT__USER_CONFIG_PATH"] == "/opt/prefect/config.toml"
    assert json.loads(config["config"]["Labels"]["org.flowpack.flows"]) == {"etl": digest}
    assert len(config["rootfs"]["diff_ids"]) == 4
    assert manifest["layers"][-1]["annotations"] == {"org.flowpack.layer": "flows"}
    flows = {m.name: m for m in tar_entries(layers[-1])}
    assert sorted(flows) == [
        "opt",
        "opt/prefect",
        "opt/prefect/flows",
        "opt/prefect/flows.json",
        "opt/prefect/flows/etl.prefect",
        "opt/prefect/healthcheck.py",
    ]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in flows.values()} == {
        (0, 0, 0, "", "")
    }
    assert read_layer_file(layers[2], "/modules/mod1.py") == b"VALUE = 1\n"
    lib = [m.name for m in tar_entries(layers[1])]
    assert lib == sorted(lib) and "opt/prefect/lib/flowpack/storage/docker.py" in lib
    assert layers[-1][4:8] == b"\0\0\0\0"  # gzip mtime 0


def test_the_same_flows_give_the_same_image_digest(
    built: tuple[Docker, Path], registry: Registry, base_image: str, tmp_path: Path
) -> None:
    first, module = built
    again = _storage(registry, base_image, module)
    again.add_flow(_flow(tmp_path / "elsewhere"))
    again.build()
    assert again.image_tag == first.image_tag
    assert again.image_digest == first.image_digest is not None


def test_the_healthcheck_passes_on_the_unpacked_image(
    built: tuple[Docker, Path], tmp_path: Path
) -> None:
    storage, _ = built
    _, _, layers = pull_image(storage.image_reference, tmp_path / "pulled")
    root = tmp_path / "rootfs"
    root.mkdir()
    for i, layer in enumerate(layers):
        unpack_layer(layer, root, f"layer {i}")
    assert (root / "usr/bin/os-release").read_text().startswith("NAME=")
    done = subprocess.run(
        [sys.executable, "-I", str(root / "opt/prefect/healthcheck.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"flow 'etl' ok ({storage.digest_of('etl')})" in done.stdout


def test_get_flow_pulls_only_the_flows_layer(
    built: tuple[Docker, Path], registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage, _ = built
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "agent-store").as_uri())
    with FaultProxy(registry.endpoint) as proxy:
        agent = pickle.loads(pickle.dumps(storage))  # the registered storage, elsewhere
        agent.registry_url = f"127.0.0.1:{proxy.port}/team"
        flow = agent.get_flow("/opt/prefect/flows/etl.prefect")  # by the seed's location
    assert flow.name == "etl"
    blob_reads = [r for r in proxy.snapshot() if r.method == "GET" and "/blobs/" in r.path]
    client = open_registry_client(f"oci+http://{registry.host}/team/etl")
    manifest = client.get_manifest("team/etl", str(storage.image_digest))
    client.close()
    assert manifest is not None
    flows_layer = json.loads(manifest.raw)["layers"][-1]["digest"]
    assert [r.path.rsplit("/", 1)[1] for r in blob_reads] == [flows_layer]


def test_both_base_image_and_dockerfile_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Only one of `base_image` and `dockerfile`"):
        Docker(base_image="python:3.12", dockerfile="Dockerfile")
    with pytest.raises(ValueError, match="absolute"):
        Docker(files={"relative/file.py": "/x.py"})


def test_without_an_engine(
    base_image: str, built: tuple[Docker, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())
    storage = Docker(dockerfile=str(tmp_path / "Dockerfile"))
    storage.add_flow(_flow(tmp_path / "p"))
    with pytest.raises(CapabilityError, match="needs a Docker engine"):
        storage.build()
    storage = Docker(base_image=base_image, local_image=True)
    storage.add_flow(_flow(tmp_path / "q"))
    with pytest.raises(CapabilityError, match="local_image"):
        storage.build()
    pushed, module = built
    local = Docker(
        base_image=base_image,
        env_vars={"GREETING": "hello", "PYTHONPATH": "$PYTHONPATH:/modules"},
        files={str(module): "/modules/mod1.py"},
    )
    local.add_flow(_flow(tmp_path / "r"))
    with pytest.warns(UserWarning, match="not pushed"):
        local.build()
    assert local.image_digest == pushed.image_digest  # what it would be, had it been pushed


def _wheel(tmp: Path) -> Path:
    """A one-module wheel, built by hand (pip installs it with no index and no network)."""
    import base64
    import hashlib
    import zipfile

    files = {
        "tinydep/__init__.py": b"ANSWER = 42\n",
        "tinydep-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(data)}\n"
    record += "tinydep-1.0.dist-info/RECORD,,\n"
    path = tmp / "tinydep-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for name, data in files.items():
            whl.writestr(name, data)
        whl.writestr("tinydep-1.0.dist-info/RECORD", record)
    return path


def test_python_dependencies_become_a_layer(
    registry: Registry, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    storage = Docker(
        registry_url=f"{registry.host}/deps",
        base_image=base_image,
        python_dependencies=[str(_wheel(tmp_path))],
    )
    storage.add_flow(_flow(tmp_path / "project"))
    storage.build()
    _, config, layers = pull_image(storage.image_reference, tmp_path / "pulled")
    assert len(layers) == 4  # base, dependencies, flowpack, flows
    code = read_layer_file(layers[1], "/opt/prefect/site-packages/tinydep/__init__.py")
    assert code == b"ANSWER = 42\n"
    assert config["history"][-3]["created_by"] == "flowpack: python dependencies"


def test_a_flow_that_does_not_load_in_the_image_fails_the_build(
    registry: Registry,
    base_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The flow's task comes from a module only this process can import (pickled by
    reference): the healthcheck, run on the unpacked layers, cannot load it, and no image is
    pushed."""
    from flowpack import Flow, task

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "hc_only_here.py").write_text("def produce():\n    return 7\n")
    monkeypatch.syspath_prepend(str(outside))
    import hc_only_here  # type: ignore[import-not-found]

    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())
    with Flow("unloadable") as flow:
        task(hc_only_here.produce)()
    storage = Docker(registry_url=f"{registry.host}/hc", base_image=base_image)
    storage.add_flow(flow)
    with pytest.raises(FlowError, match="healthcheck failed") as info:
        storage.build()
    assert "\n" not in str(info.value)
    assert "unloadable" in str(info.value) and "hc_only_here" in str(info.value)
    client = open_registry_client(f"oci+http://{registry.host}/hc/unloadable")
    assert client.list_tags("hc/unloadable") == []
    client.close()
    ignoring = Docker(
        registry_url=f"{registry.host}/hc", base_image=base_image, ignore_healthchecks=True
    )
    ignoring.add_flow(flow)
    assert ignoring.build().image_digest is not None


def test_dockerignore_filters_directory_files(
    registry: Registry, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())
    modules = tmp_path / "modules"
    (modules / "cache").mkdir(parents=True)
    (modules / "a.py").write_text("A = 1\n")
    (modules / "b.pyc").write_bytes(b"\0")
    (modules / "cache" / "x.py").write_text("X = 1\n")
    (modules / "keep.pyc").write_bytes(b"\1")
    ignore = tmp_path / ".dockerignore"
    ignore.write_text("# build junk\n**/*.pyc\n!modules/keep.pyc\nmodules/cache/\n*.py\n")
    storage = Docker(
        registry_url=f"{registry.host}/ignore",
        base_image=base_image,
        files={str(modules): "/modules"},
        dockerignore=str(ignore),
        ignore_healthchecks=True,
    )
    storage.add_flow(_flow(tmp_path / "project"))
    storage.build()
    _, _, layers = pull_image(storage.image_reference, tmp_path / "pulled")
    names = [m.name for m in tar_entries(layers[2]) if m.isfile()]
    assert names == ["modules/a.py", "modules/keep.pyc"]


def test_a_base_image_on_another_registry_is_copied(
    registry: Registry,
    auth_registry: Registry,
    base_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Base on the open registry, image pushed to the authenticated one: the base's layers are
    read from the first and uploaded to the second (the credentials go to the target only)."""
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())
    storage = Docker(
        registry_url=f"{auth_registry.host}/other",
        base_image=base_image,
        registry_options=auth_registry.options(),
        ignore_healthchecks=True,
    )
    storage.add_flow(_flow(tmp_path / "project"))
    storage.build()
    client = open_registry_client(
        f"oci+http://{auth_registry.host}/other/etl", **auth_registry.options()
    )
    try:
        manifest = client.get_manifest("other/etl", str(storage.image_tag))
        assert manifest is not None
        base_layer = json.loads(manifest.raw)["layers"][0]
        data = client.get_blob("other/etl", base_layer["digest"], base_layer["size"])
    finally:
        client.close()
    assert read_layer_file(data, "/etc/os-release").startswith(b"NAME=")


def test_register_builds_and_pushes_the_image(
    registry: Registry, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the seed's register does, `flowpack register` builds each storage after adding its
    flows: a flow with Docker storage ends up in an image pushed to the registry."""
    from click.testing import CliRunner

    from flowpack.cli.main import cli

    (tmp_path / "flow.py").write_text(
        "from flowpack import Flow, task\n"
        "from flowpack.storage import Docker\n\n\n"
        "@task\ndef one():\n    return 1\n\n\n"
        'with Flow("boxed") as flow:\n    one()\n\n'
        f'flow.storage = Docker(registry_url="{registry.host}/team", base_image="{base_image}",'
        ' image_name="boxed")\n'
    )
    monkeypatch.chdir(tmp_path)
    argv = ["--store", (tmp_path / "store").as_uri(), "register", "-p", "flow.py"]
    out = CliRunner().invoke(cli, [*argv, "--project", "default"])
    assert out.exit_code == 0, out.output
    assert "Pushing `Docker` storage... Done" in out.output
    client = open_registry_client(f"oci+http://{registry.host}/team/boxed")
    try:
        assert any(tag.startswith("blake3-") for tag in client.list_tags("team/boxed"))
    finally:
        client.close()


def test_add_flow_returns_the_flows_path_in_the_image_as_the_seed(
    registry: Registry, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())
    flow = _flow(tmp_path / "project")
    default = Docker(prefect_directory="/srv/prefect/")
    assert default.add_flow(flow) == "/srv/prefect/flows/etl.prefect" == default.flows["etl"]
    assert default.digest_of("etl").startswith("blake3:")
    assert default.get_flow("/srv/prefect/flows/etl.prefect").name == "etl"  # from the store
    pickled = Docker(path="/app/etl.flow", base_image=base_image)
    assert pickled.add_flow(flow) == "/app/etl.flow" == pickled.bundle_path("etl")
    pickled.build(push=False)  # the healthcheck finds and verifies the bundle at that path
    assert pickled.image_digest is not None
    script = Docker(path="/app/flows/etl.py", stored_as_script=True)
    assert script.add_flow(flow) == "/app/flows/etl.py"
    assert script.bundle_path("etl") == "/opt/prefect/flows/etl.prefect"  # kept beside it
    assert slugify("My ETL flow: v2 (Café)") == "my-etl-flow-v2-cafe"
    with pytest.raises(ValueError, match=r"would both be kept at /app/etl\.flow"):
        pickled.add_flow(_named(flow, "other"))


def _named(flow: object, name: str) -> object:
    import copy

    other = copy.copy(flow)
    other.name = name  # type: ignore[attr-defined]
    return other


def test_an_image_whose_tag_moved_to_other_flows_is_refused(
    registry: Registry, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The location is a path in the image; what is loaded from there is still checked against
    the digest registered by ``add_flow``, and the right flow runs."""
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())
    tag = f"moved-{uuid.uuid4().hex[:8]}"
    storages = []
    for offset in (1, 2):
        storage = Docker(registry_url=f"{registry.host}/team", base_image=base_image, image_tag=tag)
        storage.add_flow(_flow(tmp_path / f"project{offset}", offset))
        storages.append(storage.build())
    first, second = storages
    assert first.flows == second.flows and first.digest_of("etl") != second.digest_of("etl")
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "agent-store").as_uri())
    agent: Docker = pickle.loads(pickle.dumps(second))
    agent.image_digest = None
    assert list(execute(agent.get_flow("etl"), {}).values())[-1] == [4, 6, 8]
    stale: Docker = pickle.loads(pickle.dumps(first))
    stale.image_digest = None  # the tag now names the second image
    with pytest.raises(CorruptObject) as info:
        stale.get_flow("/opt/prefect/flows/etl.prefect")
    assert first.digest_of("etl") in str(info.value)
    assert second.digest_of("etl") in str(info.value)
