"""The engine build of :class:`~flowpack.storage.docker.Docker`: Dockerfile, context, build.

:func:`build_context` returns every file of the build context as bytes (so it can be checked
byte for byte); :func:`build_with_engine` writes it to a temporary directory and builds it with
the ``docker`` package.  The generated Dockerfile follows the seed's order:

1. ``FROM <base_image>`` (or the user's ``dockerfile`` content);
2. ``ENV`` with ``env_vars`` (values quoted);
3. ``RUN pip install pip --upgrade``, then flowpack's own requirements, then one
   ``RUN pip install`` of ``python_dependencies`` (with the seed's ``wheel``);
4. ``RUN mkdir -p <prefect_directory>/``;
5. one ``COPY`` per flow bundle export, ``flows.json``, ``healthcheck.py``, flowpack's modules
   (``lib``, put on ``PYTHONPATH``), then the user's ``files``;
6. ``extra_dockerfile_commands``;
7. ``RUN python <prefect_directory>/healthcheck.py`` unless ``ignore_healthchecks``.

No engine runs where flowpack is tested: this path is checked by its Dockerfile and context
only (see docs/oci.md).
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowpack.cas.errors import BackendError
from flowpack.cas.transfer import export_bundle
from flowpack.storage.docker_spec import slugify

if TYPE_CHECKING:
    from flowpack.storage.docker_spec import DockerSpec

__all__ = ["build_context", "build_with_engine", "dockerfile_text"]


def _runtime_requirements() -> list[str]:
    try:
        found = requires("flowpack") or []
    except PackageNotFoundError:
        return []
    return sorted(r for r in found if "extra ==" not in r)


def _context_files(storage: DockerSpec) -> dict[str, bytes]:
    """Context path -> bytes for everything but the Dockerfile."""
    import flowpack

    files: dict[str, bytes] = {}
    index: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="flowpack-context-") as tmp:
        for name, digest in sorted(storage.flow_digests().items()):
            out = Path(tmp) / "export"
            export_bundle(storage.store, storage.store.resolve(digest), out)
            files[f"flows/{slugify(name)}.prefect"] = out.read_bytes()
            index[name] = {"digest": digest, "path": storage.bundle_path(name)}
            if storage.flow_path(name) != storage.bundle_path(name):
                index[name]["script"] = storage.flow_path(name)
    doc = {"flows": index, "prefect_directory": storage.prefect_directory}
    files["flows.json"] = json.dumps(doc, sort_keys=True, indent=1).encode() + b"\n"
    if not storage.ignore_healthchecks:
        files["healthcheck.py"] = Path(__file__).with_name("docker_healthcheck.py").read_bytes()
    package = Path(flowpack.__file__).parent
    for file in sorted(package.rglob("*.py")) + sorted(package.rglob("py.typed")):
        files[f"lib/flowpack/{file.relative_to(package).as_posix()}"] = file.read_bytes()
    for source, _ in sorted(storage.files.items()):
        _add_user_file(files, Path(source))
    if storage.dockerignore:
        files[".dockerignore"] = Path(storage.dockerignore).read_bytes()
    return files


def _add_user_file(files: dict[str, bytes], source: Path) -> None:
    """The seed copies each ``files`` source into the context under its base name."""
    paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for path in paths:
        rel = (
            source.name
            if path == source
            else f"{source.name}/{path.relative_to(source).as_posix()}"
        )
        data = path.read_bytes()
        if rel in files and files[rel] != data:
            raise ValueError(f"File {rel} already exists in the build context with other content")
        files[rel] = data


def dockerfile_text(storage: DockerSpec) -> str:
    """The generated Dockerfile (see the module docstring for its order)."""

    pd = storage.prefect_directory
    if storage.dockerfile:
        lines = [Path(storage.dockerfile).read_text().rstrip("\n")]
    else:
        lines = [f"FROM {storage.base_image}"]
    env = {**storage.env_vars, "PYTHONPATH": f"{pd}/lib:$PYTHONPATH"}
    lines.append("ENV " + " \\\n    ".join(f"{k}={v!r}" for k, v in env.items()))
    lines.append("RUN pip install pip --upgrade")
    reqs = _runtime_requirements()
    if reqs:
        lines.append("RUN pip install " + " ".join(repr(r) for r in reqs))
    lines.append("RUN pip install " + " ".join(repr(d) for d in storage.python_dependencies))
    lines.append(f"RUN mkdir -p {pd}/")
    for name in sorted(storage.flows):
        lines.append(f"COPY flows/{slugify(name)}.prefect {storage.bundle_path(name)}")
    lines.append(f"COPY flows.json {pd}/flows.json")
    if not storage.ignore_healthchecks:
        lines.append(f"COPY healthcheck.py {pd}/healthcheck.py")
    lines.append(f"COPY lib {pd}/lib")
    for source, dest in sorted(storage.files.items()):
        lines.append(f"COPY {Path(source).name} {dest}")
    lines.extend(storage.extra_dockerfile_commands)
    if not storage.ignore_healthchecks:
        lines.append(f"RUN python {pd}/healthcheck.py")
    return "\n".join(lines) + "\n"


def build_context(storage: DockerSpec) -> dict[str, bytes]:
    """Every file of the build context, the Dockerfile included, by context path."""
    files = _context_files(storage)
    files["Dockerfile"] = dockerfile_text(storage).encode()
    return dict(sorted(files.items()))


def build_with_engine(storage: DockerSpec, client: Any, *, push: bool) -> None:
    """Build (and push) with the engine ``client`` (a ``docker.APIClient``).  Untested here."""
    from docker.errors import DockerException

    repo = (
        f"{storage.registry_url}/{storage.image_name}"
        if storage.registry_url
        else str(storage.image_name)
    )
    parent = os.getcwd() if storage.dockerfile else None
    with tempfile.TemporaryDirectory(prefix="flowpack-build-", dir=parent) as tmp:
        for rel, data in build_context(storage).items():
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        try:
            if not storage.local_image and storage.base_image:
                client.pull(storage.base_image)
            for line in client.build(
                path=tmp,
                tag=f"{repo}:{storage.image_tag}",
                rm=storage.rm,
                decode=True,
                **storage.build_kwargs,
            ):
                if isinstance(line, dict) and line.get("error"):
                    raise BackendError(f"docker build failed: {str(line['error']).strip()[:300]}")
            if push and storage.registry_url:
                for line in client.push(repo, tag=storage.image_tag, stream=True, decode=True):
                    if isinstance(line, dict) and line.get("error"):
                        raise BackendError(f"docker push failed: {str(line['error'])[:300]}")
                client.remove_image(f"{repo}:{storage.image_tag}")
        except DockerException as exc:
            raise BackendError(f"the Docker engine failed: {type(exc).__name__}") from exc
