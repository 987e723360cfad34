"""The engine build's Dockerfile and build context, byte for byte (no engine runs here)."""

from __future__ import annotations

from importlib.metadata import requires
from pathlib import Path

import pytest
from flowfixtures import make_project

import flowpack
from flowpack.cas.transfer import export_bundle
from flowpack.packer.script import ScriptSource, collect
from flowpack.storage import Docker
from flowpack.storage.docker_build import engine_client
from flowpack.storage.dockerfile import build_context


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Docker:
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "store").as_uri())
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    (tmp_path / "mod1.py").write_text("VALUE = 1\n")
    (tmp_path / ".dockerignore").write_text("*.pyc\n")
    docker = Docker(
        registry_url="registry.example.com/team",
        base_image="python:3.12-slim",
        python_dependencies=["pandas==2.2.0"],
        env_vars={"GREETING": "hello world"},
        files={str(tmp_path / "mod1.py"): "/modules/mod1.py"},
        dockerignore=str(tmp_path / ".dockerignore"),
        extra_dockerfile_commands=["RUN echo extra", "USER 1000"],
    )
    (flow,) = collect(ScriptSource.from_path(make_project(tmp_path / "p") / "flows" / "etl.py"))
    docker.add_flow(flow)
    return docker


def _requirements_line() -> str:
    reqs = sorted(r for r in requires("flowpack") or [] if "extra ==" not in r)
    return "RUN pip install " + " ".join(repr(r) for r in reqs)


def test_the_generated_dockerfile(storage: Docker) -> None:
    expected = (
        "FROM python:3.12-slim\n"
        "ENV GREETING='hello world' \\\n"
        "    PREFECT__USER_CONFIG_PATH='/opt/prefect/config.toml' \\\n"
        "    PYTHONPATH='/opt/prefect/lib:$PYTHONPATH'\n"
        "RUN pip install pip --upgrade\n"
        f"{_requirements_line()}\n"
        "RUN pip install 'pandas==2.2.0' 'wheel'\n"
        "RUN mkdir -p /opt/prefect/\n"
        "COPY flows/etl.prefect /opt/prefect/flows/etl.prefect\n"
        "COPY flows.json /opt/prefect/flows.json\n"
        "COPY healthcheck.py /opt/prefect/healthcheck.py\n"
        "COPY lib /opt/prefect/lib\n"
        "COPY mod1.py /modules/mod1.py\n"
        "RUN echo extra\n"
        "USER 1000\n"
        "RUN python /opt/prefect/healthcheck.py\n"
    )
    assert build_context(storage)["Dockerfile"].decode() == expected


def test_the_build_context(storage: Docker, tmp_path: Path) -> None:
    context = build_context(storage)
    export_bundle(
        storage.store, storage.store.resolve(storage.digest_of("etl")), tmp_path / "etl.export"
    )
    assert context["flows/etl.prefect"] == (tmp_path / "etl.export").read_bytes()
    assert context["mod1.py"] == b"VALUE = 1\n"
    assert context[".dockerignore"] == b"*.pyc\n"
    package = Path(flowpack.__file__).parent
    assert context["lib/flowpack/storage/docker.py"] == (package / "storage/docker.py").read_bytes()
    assert context["healthcheck.py"] == (package / "storage/docker_healthcheck.py").read_bytes()
    assert context["flows.json"] == (
        b'{\n "flows": {\n  "etl": {\n   "digest": "'
        + storage.digest_of("etl").encode()
        + b'",\n   "path": "/opt/prefect/flows/etl.prefect"\n  }\n },\n'
        b' "prefect_directory": "/opt/prefect"\n}\n'
    )
    top = {name.split("/")[0] for name in context}
    assert top == {
        "Dockerfile",
        ".dockerignore",
        "flows",
        "flows.json",
        "healthcheck.py",
        "lib",
        "mod1.py",
    }
    assert build_context(storage) == context  # the same bytes every time


def test_ignore_healthchecks_and_a_custom_prefect_directory(storage: Docker) -> None:
    storage.ignore_healthchecks = True
    storage.prefect_directory = "/srv/flows"
    text = build_context(storage)["Dockerfile"].decode()
    assert "healthcheck" not in text
    assert text.endswith("COPY mod1.py /modules/mod1.py\nRUN echo extra\nUSER 1000\n")
    assert "COPY flows/etl.prefect /srv/flows/flows/etl.prefect\n" in text


def test_a_users_dockerfile_replaces_from(storage: Docker, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nRUN apk add python3\n")
    storage.base_image = None
    storage.dockerfile = str(tmp_path / "Dockerfile")
    text = build_context(storage)["Dockerfile"].decode()
    assert text.startswith("FROM alpine:3.20\nRUN apk add python3\nENV GREETING=")


def test_no_engine_is_found_without_a_socket(storage: Docker) -> None:
    assert engine_client(storage) is None


def test_script_mode_keeps_the_bundle_beside_the_users_path(storage: Docker) -> None:
    storage.stored_as_script = True
    storage.path = "/modules/my_flow.py"
    context = build_context(storage)
    text = context["Dockerfile"].decode()
    assert "COPY flows/etl.prefect /opt/prefect/flows/etl.prefect\n" in text
    assert "COPY mod1.py /modules/mod1.py\n" in text
    assert b'"script": "/modules/my_flow.py"' in context["flows.json"]
    assert storage.flow_path("etl") == "/modules/my_flow.py"
