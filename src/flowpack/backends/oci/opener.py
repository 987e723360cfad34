"""``open_oci(url, **options)``: the opener of ``oci+http://`` and ``oci+https://`` locations.

Options (anything else is refused with :class:`UsageError`):

- ``username``, ``password``: credentials (else ``~/.docker/config.json`` and its helpers,
  see :mod:`.credentials`); never shown in a URL, message or log;
- ``docker_config``: another Docker client configuration file or directory;
- ``insecure``: allow ``oci+http://`` to a host other than 127.0.0.1/localhost, and skip TLS
  certificate verification for ``oci+https://``; hosts listed in
  ``$FLOWPACK_INSECURE_REGISTRIES`` (``host[:port]``, comma-separated) are opened so too, which
  is how the CLI reaches them;
- ``mount_from``: a repository on the same registry to mount existing blobs from;
- ``timeout`` (seconds), ``max_connections``, ``monolithic_limit`` (bytes above which blobs go
  up in chunked ``PATCH`` requests), ``chunk_size``, ``max_manifest_size``.

The location's blob and ref stores share one pooled client, closed by ``Location.close``;
transient failures are retried by :mod:`flowpack.backends.retrying`.
"""

from __future__ import annotations

import os
from typing import Any

from flowpack.backends.oci.blobs import OciBlobStore
from flowpack.backends.oci.client import (
    CHUNK_SIZE,
    MAX_MANIFEST_SIZE,
    MONOLITHIC_LIMIT,
    RegistryClient,
)
from flowpack.backends.oci.credentials import find_credentials
from flowpack.backends.oci.reference import parse_registry_url, repository_name
from flowpack.backends.oci.refs import OciRefStore
from flowpack.backends.retrying import RetryingBlobStore, RetryingRefStore, RetryPolicy
from flowpack.cas.errors import UsageError
from flowpack.cas.location import Location

__all__ = ["ENV_INSECURE", "OPTIONS", "insecure_registries", "open_oci", "open_registry_client"]

ENV_INSECURE = "FLOWPACK_INSECURE_REGISTRIES"

OPTIONS = frozenset(
    {
        "username",
        "password",
        "docker_config",
        "insecure",
        "mount_from",
        "timeout",
        "max_connections",
        "monolithic_limit",
        "chunk_size",
        "max_manifest_size",
    }
)


def open_registry_client(url: str, **options: Any) -> RegistryClient:
    """A :class:`RegistryClient` for the registry of ``url`` (options as :func:`open_oci`)."""
    unknown = set(options) - OPTIONS
    if unknown:
        raise UsageError(
            f"unknown option(s) for oci:// stores: {', '.join(sorted(unknown))}"
            f" (known: {', '.join(sorted(OPTIONS))})"
        )
    ref = parse_registry_url(url, insecure=True)
    insecure = bool(options.get("insecure", False)) or ref.netloc in insecure_registries()
    parse_registry_url(url, insecure=insecure)  # refuses plain HTTP unless allowed
    creds = find_credentials(
        ref.netloc,
        username=options.get("username"),
        password=options.get("password"),
        docker_config=options.get("docker_config"),
    )
    return RegistryClient(
        ref,
        credentials=creds,
        verify=not insecure,
        timeout=float(options.get("timeout", 60.0)),
        max_connections=int(options.get("max_connections", 8)),
        monolithic_limit=int(options.get("monolithic_limit", MONOLITHIC_LIMIT)),
        chunk_size=int(options.get("chunk_size", CHUNK_SIZE)),
        max_manifest_size=int(options.get("max_manifest_size", MAX_MANIFEST_SIZE)),
    )


def insecure_registries() -> frozenset[str]:
    """``host[:port]`` entries of ``$FLOWPACK_INSECURE_REGISTRIES`` (comma-separated), which
    are opened as with ``insecure=True`` (Docker's ``insecure-registries``)."""
    value = os.environ.get(ENV_INSECURE, "")
    return frozenset(h.strip() for h in value.split(",") if h.strip())


def open_oci(url: str, **options: Any) -> Location:
    """Open the registry repository at ``url`` as a location.

    Raises :class:`UsageError` for a malformed URL, unknown options, or plain HTTP to a
    non-loopback host without ``insecure``.  Opening makes no request: an unreachable
    registry is reported by the first operation.
    """
    client = open_registry_client(url, **options)
    mount_from = options.get("mount_from")
    if mount_from is not None:
        repository_name(str(mount_from), what="mount_from repository")
    blobs = OciBlobStore(client, client.ref.repository, mount_from=mount_from)
    refs = OciRefStore(client, blobs)
    policy = RetryPolicy()
    return Location(
        client.ref.url,
        RetryingBlobStore(blobs, policy),
        RetryingRefStore(refs, policy),
        closers=[client.close],
    )
