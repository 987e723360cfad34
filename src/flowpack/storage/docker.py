"""`Docker`: flows kept in a container image pushed to a registry.

``Docker(registry_url=None, base_image=None, dockerfile=None, dockerignore=None,
python_dependencies=None, image_name=None, image_tag=None, env_vars=None, files=None,
prefect_version=None, local_image=False, ignore_healthchecks=False, base_url=None,
tls_config=False, build_kwargs=None, prefect_directory="/opt/prefect", path=None,
stored_as_script=False, extra_dockerfile_commands=None, **kwargs)`` keeps every documented
argument and meaning; ``ValueError`` when both ``base_image`` and ``dockerfile`` are given, or
a ``files`` source is not absolute.

``add_flow`` packs the flow into the store in use (its location is the bundle digest).
``build(push=True)`` makes the image:

- **daemonless** (the default when no Docker engine answers at ``base_url`` / ``$DOCKER_HOST``):
  the base image is read from its registry, reproducible layers are added
  (:mod:`flowpack.storage.docker_build`): python dependencies installed with pip into a target
  directory (when any are given), flowpack itself, ``files``, and the flows' bundles with the
  healthcheck, all under ``prefect_directory``; ``env_vars`` go into the image config; the
  healthcheck runs on the unpacked new layers (unless ``ignore_healthchecks``); the image is
  pushed to ``registry_url/image_name:image_tag``.  The tag defaults to the bundle
  digest (``blake3-<hex>``; for several flows, the digest of their names and digests), so the
  same flows give the same image digest on any machine.
- **engine**: with a reachable engine the generated Dockerfile and build context
  (:mod:`flowpack.storage.dockerfile`) are built with the ``docker`` package (``build_kwargs``,
  ``tls_config``, ``local_image``), then pushed.  A ``dockerfile`` needs the engine.

``get_flow`` loads from the store when it has the bundle; otherwise it reads the image
manifest, downloads only the flows layer, verifies the bundle and loads it.  Registry access
takes ``registry_options`` (flowpack's addition: ``username``, ``password``, ``insecure``,
``docker_config``), else the Docker client configuration.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from flowpack.cas.errors import CapabilityError
from flowpack.storage.base import Storage

__all__ = ["Docker"]

DEFAULT_SOCKET = "unix://var/run/docker.sock"


class Docker(Storage):
    """Flows in a container image (see the module docstring)."""

    def __init__(
        self,
        registry_url: str | None = None,
        base_image: str | None = None,
        dockerfile: str | None = None,
        dockerignore: str | None = None,
        python_dependencies: list[str] | None = None,
        image_name: str | None = None,
        image_tag: str | None = None,
        env_vars: dict[str, str] | None = None,
        files: dict[str, str] | None = None,
        prefect_version: str | None = None,
        local_image: bool = False,
        ignore_healthchecks: bool = False,
        base_url: str | None = None,
        tls_config: Any = False,
        build_kwargs: dict[str, Any] | None = None,
        prefect_directory: str = "/opt/prefect",
        path: str | None = None,
        stored_as_script: bool = False,
        extra_dockerfile_commands: list[str] | None = None,
        *,
        registry_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        _check_arguments(base_image, dockerfile, files, prefect_directory)
        self.registry_url = registry_url.rstrip("/") if registry_url else None
        self.dockerfile = dockerfile
        self.base_image = base_image or (None if dockerfile else default_base_image())
        self.dockerignore = dockerignore
        self.python_dependencies = [*(python_dependencies or []), "wheel"]
        self.image_name = image_name
        self.image_tag = image_tag
        self.prefect_directory = prefect_directory.rstrip("/") or "/"
        self.env_vars = dict(env_vars or {})
        self.env_vars.setdefault(
            "PREFECT__USER_CONFIG_PATH", f"{self.prefect_directory}/config.toml"
        )
        self.files = dict(files or {})
        self.prefect_version = prefect_version or flowpack_version()
        self.local_image = bool(local_image)
        self.ignore_healthchecks = bool(ignore_healthchecks)
        self.base_url = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
        self.tls_config = tls_config
        self.build_kwargs = dict(build_kwargs or {})
        self.rm = bool(self.build_kwargs.pop("rm", True))
        self.path = path
        self.extra_dockerfile_commands = list(extra_dockerfile_commands or [])
        self.registry_options = dict(registry_options or {})
        self.image_digest: str | None = None
        super().__init__(stored_as_script=stored_as_script, **kwargs)

    # -- names ---------------------------------------------------------------------------

    @property
    def image_reference(self) -> str:
        """``registry_url/image_name:image_tag`` (the seed's ``Docker.name``; ``name`` stays the
        class name, which registration records); ``ValueError`` before they are known."""
        if not self.image_name or not self.image_tag:
            raise ValueError("Docker storage is missing required fields image_name and image_tag")
        prefix = f"{self.registry_url}/" if self.registry_url else ""
        return f"{prefix}{self.image_name}:{self.image_tag}"

    def bundle_path(self, flow_name: str) -> str:
        """Where flow ``flow_name``'s bundle export is kept in the image."""
        from flowpack.packer.records import slug

        return f"{self.prefect_directory}/flows/{slug(flow_name)}.flowpack"

    def flow_path(self, flow_name: str) -> str:
        """The seed's location in the image: ``path`` for a script flow, else the bundle."""
        if self.stored_as_script and self.path:
            return self.path
        return self.bundle_path(flow_name)

    # -- building ------------------------------------------------------------------------

    def build(self, push: bool = True) -> Docker:
        """Build the image (daemonless unless an engine answers) and push it; return self."""
        super().build()
        if self.stored_as_script and not self.path:
            raise ValueError(
                "A `path` must be provided to show where flow `.py` file is stored in the image."
            )
        from flowpack.storage import docker_build

        docker_build.name_image(self)
        engine = docker_build.engine_client(self)
        if engine is not None:
            from flowpack.storage.dockerfile import build_with_engine

            build_with_engine(self, engine, push=push)
            return self
        if self.dockerfile is not None:
            raise CapabilityError(
                f"building from a dockerfile needs a Docker engine; none answers at {self.base_url}"
            )
        if self.local_image:
            raise CapabilityError(
                "local_image=True needs a Docker engine (the base image is in its local store);"
                f" none answers at {self.base_url}"
            )
        if push and not self.registry_url:
            warnings.warn(
                "Docker storage has no registry_url: the image is assembled and checked, not"
                " pushed",
                stacklevel=2,
            )
            push = False
        self.image_digest = docker_build.build_and_push(self, push=push)
        return self

    def get_flow(self, name_or_location: str | None = None) -> Any:
        """Load the flow from the store, else from the image's flows layer (verified)."""
        from flowpack.cas.errors import NotFound

        name, location = self._locate(name_or_location)
        try:
            self.store.resolve(location)
        except NotFound:
            from flowpack.storage import docker_build

            docker_build.import_from_image(self, name, location)
        return super().get_flow(name_or_location)


def _check_arguments(
    base_image: str | None,
    dockerfile: str | None,
    files: dict[str, str] | None,
    prefect_directory: str,
) -> None:
    """The seed's ``ValueError`` cases (and an absolute ``prefect_directory``)."""
    if base_image and dockerfile:
        raise ValueError("Only one of `base_image` and `dockerfile` can be provided.")
    for source in files or {}:
        if not os.path.isabs(source):
            raise ValueError(
                f"Provided path `{source}` is not an absolute path; the sources of `files`"
                " must be absolute"
            )
    if not prefect_directory.startswith("/"):
        raise ValueError(f"prefect_directory must be absolute, not {prefect_directory!r}")


def default_base_image() -> str:
    """``python:X.Y-slim`` for the running interpreter."""
    return f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"


def flowpack_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flowpack")
    except PackageNotFoundError:
        return "0+unknown"
