"""`DockerSpec`: what a :class:`~flowpack.storage.docker.Docker` storage is configured with
(every documented argument) and where things go in its image; the build
(:mod:`flowpack.storage.docker_build`, :mod:`flowpack.storage.dockerfile`) reads it, and
``Docker`` adds the verbs that build and load.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Mapping
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.storage.base import Storage

__all__ = ["DockerSpec", "default_base_image", "flowpack_version", "slugify"]

DEFAULT_SOCKET = "unix://var/run/docker.sock"


class DockerSpec(Storage):
    """The configuration of a Docker storage (see :mod:`flowpack.storage.docker`)."""

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
        """Where flow ``flow_name``'s bundle export is kept in the image: as the seed's pickle,
        ``path`` when given (and not a script), else
        ``<prefect_directory>/flows/<slugified name>.prefect``."""
        if self.path and not self.stored_as_script:
            return self.path
        return f"{self.prefect_directory}/flows/{slugify(flow_name)}.prefect"

    def flow_path(self, flow_name: str) -> str:
        """The seed's location in the image: ``path`` for a script flow, else the bundle."""
        if self.stored_as_script and self.path:
            return self.path
        return self.bundle_path(flow_name)

    def flow_location(self, flow_name: str) -> str:
        """What ``add_flow`` returns, as the seed's Docker: the flow's path in the image."""
        return self.flow_path(flow_name)

    def add_flow(self, flow: Any) -> str:
        """As :meth:`Storage.add_flow`; ``ValueError`` when another flow's bundle would be
        kept at the same path in the image."""
        self._check_bundle_path(str(flow.name))
        return super().add_flow(flow)

    def keep_registered(self, flows: Mapping[str, Digest]) -> None:
        """Take the flows just registered (name -> bundle digest), located in the image."""
        for name in flows:
            self._check_bundle_path(name)
        for name, digest in flows.items():
            self.flows[name] = self.flow_location(name)
            self._digests[name] = str(digest)

    def _check_bundle_path(self, flow_name: str) -> None:
        path = self.bundle_path(flow_name)
        for other in self.flows:
            if other != flow_name and self.bundle_path(other) == path:
                raise ValueError(
                    f"flows {other!r} and {flow_name!r} would both be kept at {path} in the"
                    " image: rename one, or give no `path`"
                )


def slugify(name: str) -> str:
    """``name`` as the seed slugified a flow name for its file in the image: ASCII, lower
    case, each run of other characters one ``-`` (``My ETL flow`` -> ``my-etl-flow``)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "flow"


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
