"""The daemonless build of :class:`~flowpack.storage.docker.Docker`: layers, config, push.

Layers, in order, each reproducible (:class:`~flowpack.packer.layers.LayerBuilder`):

1. ``python_dependencies`` installed by ``pip install --target`` into
   ``<prefect_directory>/site-packages`` (only when the user named any);
2. flowpack's own modules under ``<prefect_directory>/lib``;
3. ``files`` (``{absolute source: destination}``, directories recursively, without what
   ``dockerignore`` patterns exclude);
4. the flows layer: each flow's bundle as a self-contained, verifiable export at
   ``<prefect_directory>/flows/<slugified name>.prefect`` (or ``path``, see
   :meth:`~flowpack.storage.docker_spec.DockerSpec.bundle_path`),
   ``<prefect_directory>/flows.json`` (name -> ``digest`` and ``path``) and
   ``<prefect_directory>/healthcheck.py``, annotated ``org.flowpack.layer=flows``.

The config is the base image's, with ``env_vars`` set (``$VAR`` and ``${VAR}`` expanded against
the base's environment, as a Dockerfile ``ENV`` does), ``PYTHONPATH`` led by the two
directories above, the label ``org.flowpack.flows``, and one history entry per layer, with no
timestamps.

Unless ``ignore_healthchecks``, the healthcheck runs on the new layers, unpacked, before
anything is pushed (the seed ran it as the Dockerfile's last step).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from flowpack.cas.errors import CorruptObject, FlowError, MalformedData, NotFound
from flowpack.cas.transfer import export_bundle, import_bundle
from flowpack.packer.layers import Layer, LayerBuilder, read_layer_file, unpack_layer

if TYPE_CHECKING:
    from flowpack.backends.oci.client import RegistryClient
    from flowpack.backends.oci.image import Image, ImageName, NewImage
    from flowpack.storage.docker_spec import DockerSpec

__all__ = ["build_and_push", "engine_client", "import_from_image", "name_image"]

HEALTHCHECK_TIMEOUT = 600
FLOWS_LAYER = "org.flowpack.layer"
FLOWS_LABEL = "org.flowpack.flows"
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def name_image(storage: DockerSpec) -> None:
    """Fill ``image_name`` (the flow's name, or ``flows``) and ``image_tag`` (the digest)."""
    if not storage.image_name:
        if len(storage.flows) == 1:
            only = next(iter(storage.flows))
            storage.image_name = re.sub(r"[^a-z0-9]+", "-", only.lower()).strip("-") or "flow"
        else:
            storage.image_name = "flows"
    if not storage.image_tag:
        digests = storage.flow_digests()
        if len(digests) == 1:
            storage.image_tag = "blake3-" + next(iter(digests.values())).split(":")[-1]
        else:
            lines = "".join(f"{n} {d}\n" for n, d in sorted(digests.items()))
            storage.image_tag = "blake3-" + blake3.blake3(lines.encode()).hexdigest()


def engine_client(storage: DockerSpec) -> Any | None:
    """A ``docker.APIClient`` if an engine answers at ``storage.base_url``, else None."""
    url = storage.base_url
    if (
        url.startswith("unix://")
        and not Path("/" + url.removeprefix("unix://").lstrip("/")).exists()
    ):
        return None
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return None
    try:
        client = docker.APIClient(base_url=url, tls=storage.tls_config, timeout=5)
        client.ping()
    except (DockerException, OSError):
        return None
    return client


def _target(storage: DockerSpec) -> ImageName:
    from flowpack.backends.oci.image import parse_image

    return parse_image(f"{storage.registry_url}/{storage.image_name}:{storage.image_tag}")


def _client(storage: DockerSpec, name: ImageName, *, target: bool = True) -> RegistryClient:
    """A client for ``name``'s registry.  The ``username``/``password`` options are for the
    target registry only: another registry (the base image's) gets the Docker login alone."""
    from flowpack.backends.oci.opener import open_registry_client

    options = dict(storage.registry_options)
    if not target:
        options.pop("username", None)
        options.pop("password", None)
    ref = name.registry()
    return open_registry_client(f"oci+{ref.scheme}://{ref.netloc}/{name.repository}", **options)


def flows_layer(storage: DockerSpec) -> Layer:
    """The layer holding each flow's bundle export, ``flows.json`` and the healthcheck."""
    builder = LayerBuilder()
    index: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="flowpack-image-") as tmp:
        for name, digest in sorted(storage.flow_digests().items()):
            path = storage.bundle_path(name)
            out = Path(tmp) / "export"
            export_bundle(storage.store, storage.store.resolve(digest), out)
            builder.add_file(path, out.read_bytes())
            index[name] = {"digest": digest, "path": path}
            if storage.flow_path(name) != path:
                index[name]["script"] = storage.flow_path(name)
    doc = {"flows": index, "prefect_directory": storage.prefect_directory}
    flows_json = json.dumps(doc, sort_keys=True, indent=1).encode() + b"\n"
    builder.add_file(f"{storage.prefect_directory}/flows.json", flows_json)
    if not storage.ignore_healthchecks:
        script = Path(__file__).with_name("docker_healthcheck.py").read_bytes()
        builder.add_file(f"{storage.prefect_directory}/healthcheck.py", script)
    return builder.build()


def flowpack_layer(storage: DockerSpec) -> Layer:
    """flowpack's modules under ``<prefect_directory>/lib/flowpack``."""
    import flowpack

    builder = LayerBuilder()
    source = Path(flowpack.__file__).parent
    builder.add_tree(
        source,
        f"{storage.prefect_directory}/lib/flowpack",
        skip=("__pycache__",),
        ignore=lambda rel: not rel.endswith((".py", "py.typed")),
    )
    return builder.build()


def files_layer(storage: DockerSpec) -> Layer | None:
    if not storage.files:
        return None
    builder = LayerBuilder()
    patterns = _dockerignore(storage)
    for source, dest in sorted(storage.files.items()):
        target = dest if dest.startswith("/") else f"{storage.prefect_directory}/{dest}"
        name = Path(source).name

        def ignore(rel: str, name: str = name) -> bool:  # the context path, as the seed's
            return _ignored(patterns, f"{name}/{rel}")

        builder.add_tree(Path(source), target, ignore=ignore)
    return builder.build()


def _dockerignore(storage: DockerSpec) -> list[tuple[bool, re.Pattern[str]]]:
    """``(negated, pattern)`` of each line of ``storage.dockerignore``, as Docker reads them:
    paths relative to the context root, ``*`` and ``?`` within one segment, ``**`` across
    segments, ``!`` re-including, the last matching line deciding."""
    if not storage.dockerignore:
        return []
    out: list[tuple[bool, re.Pattern[str]]] = []
    for line in Path(storage.dockerignore).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            out.append((negated, _glob(line.lstrip("!").strip().strip("/"))))
    return out


def _glob(pattern: str) -> re.Pattern[str]:
    out = ""
    for token in re.split(r"(\*\*/?|\*|\?)", pattern):
        if token.startswith("**"):
            out += "(?:.*/)?" if token.endswith("/") else ".*"
        elif token == "*":
            out += "[^/]*"
        elif token == "?":
            out += "[^/]"
        else:
            out += re.escape(token)
    return re.compile(out + r"\Z")


def _ignored(patterns: list[tuple[bool, re.Pattern[str]]], rel: str) -> bool:
    """Whether context path ``rel`` (or a directory above it) is excluded."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negated, pattern in patterns:
        if any(pattern.match(p) for p in prefixes):
            result = not negated
    return result


def dependencies_layer(storage: DockerSpec) -> Layer | None:
    """``pip install --target`` of the user's dependencies (none: no layer)."""
    wanted = storage.python_dependencies[:-1]  # the seed always appends "wheel"
    if not wanted:
        return None
    with tempfile.TemporaryDirectory(prefix="flowpack-deps-") as tmp:
        argv = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            tmp,
            "--no-compile",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            *wanted,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise FlowError(f"installing python_dependencies failed: {last[:300]}")
        builder = LayerBuilder()
        builder.add_tree(
            Path(tmp), f"{storage.prefect_directory}/site-packages", skip=("__pycache__", ".pyc")
        )
        return builder.build()


def image_config(
    storage: DockerSpec, base: dict[str, Any], layers: list[tuple[str, Layer]]
) -> dict[str, Any]:
    """The base config with flowpack's environment, label, diff_ids and history."""
    cfg = copy.deepcopy(base)
    inner = cfg.setdefault("config", {})
    env: dict[str, str] = {}
    for item in inner.get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    for key, value in storage.env_vars.items():
        env[key] = _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), str(value))
    pd = storage.prefect_directory
    ours = f"{pd}/lib:{pd}/site-packages"
    env["PYTHONPATH"] = f"{ours}:{env['PYTHONPATH']}" if env.get("PYTHONPATH") else ours
    inner["Env"] = [f"{k}={v}" for k, v in env.items()]
    labels = dict(inner.get("Labels") or {})
    digests = dict(sorted(storage.flow_digests().items()))
    labels[FLOWS_LABEL] = json.dumps(digests, separators=(",", ":"))
    inner["Labels"] = labels
    rootfs = cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), *(layer.diff_id for _, layer in layers)]
    history = list(cfg.get("history") or [])
    history += [{"created_by": f"flowpack: {what}", "comment": "flowpack"} for what, _ in layers]
    cfg["history"] = history
    return cfg


def assemble(storage: DockerSpec, base: Image) -> NewImage:
    """The new layers (health-checked unless ``ignore_healthchecks``) and config over ``base``."""
    from flowpack.backends.oci.image import DOCKER_LAYER, OCI_LAYER, NewImage

    layers = [
        ("python dependencies", dependencies_layer(storage)),
        ("flowpack", flowpack_layer(storage)),
        ("files", files_layer(storage)),
        ("flows", flows_layer(storage)),
    ]
    built = [(what, layer) for what, layer in layers if layer is not None]
    if not storage.ignore_healthchecks:
        run_healthcheck(storage, [layer for _, layer in built])
    image = NewImage(base, config=image_config(storage, base.config, built))
    kind = DOCKER_LAYER if image.docker_format else OCI_LAYER
    for what, layer in built:
        desc: dict[str, Any] = {"mediaType": kind, "digest": layer.digest, "size": layer.size}
        if what == "flows" and not image.docker_format:
            desc["annotations"] = {FLOWS_LAYER: "flows"}
        image.layers.append((layer.blob, desc))
    return image


def build_and_push(storage: DockerSpec, *, push: bool = True) -> str:
    """Assemble the image from ``storage.base_image``, push it unless ``push`` is false, and
    return its manifest digest (the same either way)."""
    from flowpack.backends.oci.image import fetch_image, image_digest, parse_image, push_image

    assert storage.base_image is not None
    base_name = parse_image(storage.base_image)
    target = _target(storage) if push else None
    client = _client(storage, target or base_name, target=target is not None)
    same = target is None or base_name.host == target.host
    base_client = client if same else _client(storage, base_name, target=False)
    try:
        image = assemble(storage, fetch_image(base_client, base_name))
        if target is None:
            return image_digest(image)
        return push_image(
            client,
            target.repository,
            target.reference,
            image,
            base_client=base_client,
            base_repository=base_name.repository,
        )
    finally:
        client.close()
        if base_client is not client:
            base_client.close()


def run_healthcheck(storage: DockerSpec, layers: list[Layer]) -> None:
    """Unpack ``layers`` into a scratch root and run the image's healthcheck there with this
    interpreter; :class:`FlowError` with its last line when it fails (nothing is pushed)."""
    with tempfile.TemporaryDirectory(prefix="flowpack-healthcheck-root-") as tmp:
        root = Path(tmp)
        for layer in layers:
            unpack_layer(layer.blob, root, layer.digest)
        script = root / storage.prefect_directory.lstrip("/") / "healthcheck.py"
        done = subprocess.run(
            [sys.executable, "-I", str(script)],
            capture_output=True,
            text=True,
            timeout=HEALTHCHECK_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise FlowError(f"Your docker image failed to build: the healthcheck failed: {last[:300]}")


def import_from_image(storage: DockerSpec, name: str | None, registered: str) -> None:
    """Fetch only the image's flows layer, and import the bundle of flow ``name`` (or the one
    whose digest is ``registered``) from it, verified against ``registered``.

    Raises :class:`NotFound` when the image or the flow is absent, :class:`MalformedData` or
    :class:`UnsafePath` for a damaged or hostile layer, :class:`CorruptObject` when the layer
    holds another bundle than the one registered.
    """
    from flowpack.backends.oci.image import ImageName

    target = _target(storage)
    if storage.image_digest:
        target = ImageName(target.host, target.repository, storage.image_digest)
    client = _client(storage, target)
    try:
        found = client.get_manifest(target.repository, target.reference)
        if found is None:
            raise NotFound(f"image {target} not found")
        digest, size = _flows_layer_of(found.raw, str(target))
        blob = client.get_blob(target.repository, digest, size)
    finally:
        client.close()
    data = read_layer_file(blob, f"{storage.prefect_directory}/flows.json", digest)
    entry = _entry(data, name, registered, str(target))
    payload = read_layer_file(blob, entry, digest)
    with tempfile.TemporaryDirectory(prefix="flowpack-import-") as tmp:
        path = Path(tmp) / "flow.flowpack"
        path.write_bytes(payload)
        got = import_bundle(storage.store, path)
    if str(got) != registered:
        raise CorruptObject(f"image {target} holds {got} where {registered} was registered", got)


def _flows_layer_of(raw: bytes, what: str) -> tuple[str, int]:
    """The digest and size of the flows layer an image manifest names (annotated, or last)."""
    try:
        layers = json.loads(raw)["layers"]
        marked = [d for d in layers if (d.get("annotations") or {}).get(FLOWS_LAYER) == "flows"]
        desc = (marked or layers)[-1]
        return str(desc["digest"]), int(desc["size"])
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise MalformedData(f"the manifest of image {what} names no flows layer") from exc


def _entry(flows_json: bytes, name: str | None, registered: str, what: str) -> str:
    """The in-image path of the flow ``name`` (or the one whose digest is ``registered``) in
    ``flows.json``."""
    try:
        entries = json.loads(flows_json)["flows"]
        if name is None:
            name = next(n for n, e in entries.items() if e["digest"] == registered)
        path = entries[name]["path"]
    except (ValueError, KeyError, TypeError, AttributeError, StopIteration) as exc:
        raise NotFound(f"image {what} holds no flow {name or registered}") from exc
    if not isinstance(path, str):
        raise MalformedData(f"image {what}: flows.json is malformed")
    return path
