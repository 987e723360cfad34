"""Container images on a registry: references, reading a base image, pushing a built one.

:func:`parse_image` reads ``[host[:port]/]path[:tag][@digest]`` as Docker does (no host means
Docker Hub, ``registry-1.docker.io``, with ``library/`` for one-segment names).
:func:`fetch_image` reads an image's manifest (choosing ``linux/amd64``-like platform from an
index) and config; :func:`push_image` makes the target repository hold the base layers
(mounted when on the same registry, else copied), the new layers and config, then writes the
manifest under its tag.  Layers move as whole blobs, checked against their sha256 on the way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flowpack.backends.oci.artifacts import json_object
from flowpack.backends.oci.client import (
    MANIFEST_TYPES,
    OCI_MANIFEST,
    RegistryClient,
    sha256_digest,
)
from flowpack.backends.oci.reference import LOOPBACK, RegistryRef, repository_name
from flowpack.cas.errors import MalformedData, NotFound, UsageError

__all__ = [
    "Image",
    "ImageName",
    "NewImage",
    "fetch_image",
    "image_digest",
    "parse_image",
    "push_image",
]

DOCKER_HUB = "registry-1.docker.io"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = MANIFEST_TYPES[1], MANIFEST_TYPES[3]
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MAX_CONFIG = 8 << 20
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class ImageName:
    """``host/repository:tag`` (or ``@digest``): where an image is."""

    host: str
    repository: str
    reference: str

    def registry(self) -> RegistryRef:
        """The registry, over plain HTTP on the loopback interface, HTTPS elsewhere."""
        host, _, port = self.host.rpartition(":") if ":" in self.host else (self.host, "", "")
        scheme = "http" if host in LOOPBACK else "https"
        return RegistryRef(scheme, host, int(port) if port else None, self.repository)

    def __str__(self) -> str:
        sep = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.host}/{self.repository}{sep}{self.reference}"


def parse_image(text: str, *, default_tag: str = "latest") -> ImageName:
    """Parse an image reference; :class:`UsageError` if it is malformed."""
    rest, _, digest = text.partition("@")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = DOCKER_HUB, rest
    name, _, tag = path.rpartition(":") if ":" in path else (path, "", "")
    if host == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    repository_name(name, what="image")
    if digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise UsageError(f"invalid image digest in {text!r}")
    if ":" in path and not tag:
        raise UsageError(f"invalid image reference {text!r}: empty tag")
    tag = tag or default_tag
    if not _TAG.match(tag):
        raise UsageError(f"invalid image tag in {text!r}")
    return ImageName(host, name, digest or tag)


@dataclass(frozen=True)
class Image:
    """An image's manifest and config documents, as read."""

    manifest: dict[str, Any]
    media_type: str
    config: dict[str, Any]
    digest: str

    @property
    def layers(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("layers", []))


def fetch_image(client: RegistryClient, name: ImageName, platform: str = "linux/amd64") -> Image:
    """Read ``name``'s manifest (resolving an index to ``platform``) and its config."""
    found = client.get_manifest(name.repository, name.reference)
    if found is None:
        raise NotFound(f"image {name} not found")
    doc = json_object(found.raw, f"the manifest of {name}")
    media_type = doc.get("mediaType") or found.media_type
    if media_type in INDEX_TYPES:
        os_, _, arch = platform.partition("/")
        chosen = [
            m
            for m in doc.get("manifests", [])
            if isinstance(m, dict)
            and m.get("platform", {}).get("os") == os_
            and m.get("platform", {}).get("architecture") == arch
        ]
        if not chosen:
            raise NotFound(f"image {name} has no {platform} variant")
        return fetch_image(client, ImageName(name.host, name.repository, chosen[0]["digest"]))
    try:
        cfg = doc["config"]
        raw = client.get_blob(name.repository, cfg["digest"], int(cfg["size"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedData(f"the manifest of {name} names no config") from exc
    if len(raw) > MAX_CONFIG:
        raise MalformedData(f"the config of {name} is over {MAX_CONFIG} bytes")
    return Image(doc, str(media_type), json_object(raw, f"the config of {name}"), found.digest)


@dataclass
class NewImage:
    """What :func:`push_image` writes: base layers, new ``(blob, descriptor)`` layers, config."""

    base: Image | None
    layers: list[tuple[bytes, dict[str, Any]]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def docker_format(self) -> bool:
        return self.base is not None and self.base.media_type == DOCKER_MANIFEST

    def manifest(self, config_digest: str, config_size: int) -> tuple[bytes, str]:
        """The canonical manifest bytes and media type."""
        docker = self.docker_format
        layers = list(self.base.layers) if self.base else []
        layers += [desc for _, desc in self.layers]
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
            "config": {
                "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                "digest": config_digest,
                "size": config_size,
            },
            "layers": layers,
        }
        if self.annotations and not docker:
            doc["annotations"] = dict(sorted(self.annotations.items()))
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return raw, str(doc["mediaType"])


def canonical_config(config: dict[str, Any]) -> bytes:
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def image_digest(image: NewImage) -> str:
    """The manifest digest ``image`` will have once pushed (nothing is sent)."""
    config = canonical_config(image.config)
    return sha256_digest(image.manifest(sha256_digest(config), len(config))[0])


def push_image(
    client: RegistryClient,
    repository: str,
    tag: str,
    image: NewImage,
    *,
    base_client: RegistryClient | None = None,
    base_repository: str | None = None,
) -> str:
    """Push ``image`` to ``repository:tag`` on ``client``'s registry; return the manifest digest.

    Base layers are mounted from ``base_repository`` when ``base_client`` is ``client`` (the
    same registry), else read from ``base_client`` and uploaded.  The tag is written last, so a
    failure before leaves no tag.
    """
    same = base_client is None or base_client is client
    if image.base is not None:
        for desc in image.base.layers:
            digest, size = str(desc["digest"]), int(desc["size"])
            if client.blob_size(repository, digest) is not None:
                continue
            source = base_client or client
            if same and base_repository and client.mount_blob(repository, digest, base_repository):
                continue
            if base_repository is None:
                raise NotFound(f"base layer {digest} is not in {repository} and has no source")
            client.upload_blob(repository, source.get_blob(base_repository, digest, size))
    for blob, _ in image.layers:
        client.upload_blob(repository, blob)
    config = canonical_config(image.config)
    config_digest = client.upload_blob(repository, config)
    raw, media_type = image.manifest(config_digest, len(config))
    return client.put_manifest(repository, tag, raw, media_type)
