"""`Docker`: flows kept in a container image pushed to a registry.

``Docker(registry_url=None, base_image=None, dockerfile=None, dockerignore=None,
python_dependencies=None, image_name=None, image_tag=None, env_vars=None, files=None,
prefect_version=None, local_image=False, ignore_healthchecks=False, base_url=None,
tls_config=False, build_kwargs=None, prefect_directory="/opt/prefect", path=None,
stored_as_script=False, extra_dockerfile_commands=None, **kwargs)`` keeps every documented
argument and meaning; ``ValueError`` when both ``base_image`` and ``dockerfile`` are given, or
a ``files`` source is not absolute.

``add_flow`` packs the flow into the store in use and returns its location as the seed's
``Docker`` did: the path of its file in the image, ``path`` when given (a script's, or where a
pickled flow is kept), else ``<prefect_directory>/flows/<slugified flow name>.prefect``.  The
bundle digest is kept (``digest_of(name)``): the image's healthcheck and ``get_flow`` verify
against it.
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

import warnings
from collections.abc import Mapping
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import CapabilityError, FlowError
from flowpack.storage.docker_spec import DockerSpec

__all__ = ["Docker"]


class Docker(DockerSpec):
    """Flows in a container image (see the module docstring)."""

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

    def publish(self, flows: Mapping[str, Digest]) -> None:
        """At registration (the seed's ``flow.register()`` builds its storage): add the flows
        just registered and :meth:`build` the image."""
        self.keep_registered(flows)
        self.build()

    def get_flow(self, name_or_location: str | None = None) -> Any:
        """Load the flow from the store, else from the image's flows layer (verified)."""
        from flowpack.cas.errors import NotFound

        name, digest = self._locate(name_or_location)
        if not digest.startswith("blake3:"):
            raise FlowError(f"no bundle digest was recorded for flow {name!r}: add_flow() it first")
        try:
            self.store.resolve(digest)
        except NotFound:
            from flowpack.storage import docker_build

            docker_build.import_from_image(self, name, digest)
        return super().get_flow(name_or_location)
