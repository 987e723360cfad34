"""The seed's Docker and Webhook classes with a real Prefect 1.x flow, pickled and as a script,
through the command line of the Prefect 1.x environment: Docker daemonless on the distribution
registry, Webhook on a WebDAV server that knows nothing of flowpack.

The seed, for Docker: "To store flows as files in Docker storage three kwargs needs to be set
... path: the path that the file is stored in the Docker image; files: a dictionary of local file
source to path destination in image; stored_as_script: boolean enabling script based storage";
for Webhook: "When .build() or .get_flow() is run, such values will be replaced with the value
of environment variables"."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from imagekit import pull_image, push_base_image, tar_entries
from prefect1kit import register_skip_and_run, seed_example

from flowpack.backends.oci.opener import open_registry_client
from servers.registry import Registry
from servers.webdav import WebDavServer


@pytest.fixture(scope="module")
def base_image(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    return push_base_image(registry.host, tmp_path_factory.mktemp("base"))


@pytest.mark.parametrize("script", [False, True], ids=["pickle", "script"])
def test_docker(registry: Registry, base_image: str, tmp_path: Path, script: bool) -> None:
    """The image is built without an engine, its healthcheck loads the Prefect flow, and it is
    pushed; the script form carries the file at ``path``."""
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    (tmp_path / "docker-config").mkdir()
    env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    name = f"example-{uuid.uuid4().hex[:8]}"
    args: dict[str, object] = {
        "registry_url": f"{registry.host}/team",
        "base_image": base_image,
        "image_name": name,
    }
    if script:
        source = str(tmp_path / "flows" / "my_flow.py")
        args.update(path="my_flow.py", files={source: "my_flow.py"}, stored_as_script=True)
    first, _ = register_skip_and_run(tmp_path, seed_example("Docker", args), env, "Docker")
    assert "Pushing `Docker` storage... Done" in first, first
    client = open_registry_client(f"oci+http://{registry.host}/team/{name}")
    try:
        (tag,) = client.list_tags(f"team/{name}")  # one image: the second registration skipped
    finally:
        client.close()
    _, config, layers = pull_image(f"{registry.host}/team/{name}:{tag}", tmp_path / "pulled")
    index = json.loads(config["config"]["Labels"]["org.flowpack.flows"])
    assert list(index) == ["example"]
    flows = {m.name for m in tar_entries(layers[-1])}
    assert "opt/prefect/flows.json" in flows and "opt/prefect/healthcheck.py" in flows
    if script:
        files = {m.name for m in tar_entries(layers[-2])}
        assert "opt/prefect/my_flow.py" in files, files


@pytest.mark.parametrize("script", [False, True], ids=["pickle", "script"])
def test_webhook(webdav_server: WebDavServer, tmp_path: Path, script: bool) -> None:
    """``build()`` at registration PUTs the flow to the WebDAV server (credentials filled in
    from the environment); what it holds is the export of the bundle, or the script."""
    env = {"DAV_USER": webdav_server.user, "DAV_PASSWORD": webdav_server.password}
    name = f"{uuid.uuid4().hex}.{'py' if script else 'flowpack'}"
    request = {"url": f"{webdav_server.url}/{name}", "auth": ["${DAV_USER}", "${DAV_PASSWORD}"]}
    args: dict[str, object] = {
        "build_request_kwargs": request,
        "build_request_http_method": "PUT",
        "get_flow_request_kwargs": request,
        "get_flow_request_http_method": "GET",
    }
    if script:
        args.update(stored_as_script=True, flow_script_path=str(tmp_path / "flows" / "my_flow.py"))
    source = seed_example("Webhook", args)
    first, _ = register_skip_and_run(tmp_path, source, env, "Webhook")
    assert "Pushing `Webhook` storage... Done" in first, first
    sent = (webdav_server.root / name).read_bytes()
    assert sent == source.encode() if script else sent.startswith(b"FPACK001")
