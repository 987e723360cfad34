"""Images for the Docker storage tests: a tiny base image written as an OCI layout and pushed
with skopeo, and reading a pushed image back into an OCI layout with skopeo."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = _sha(data)
    path = layout / "blobs" / "sha256" / digest.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def root_filesystem() -> bytes:
    """A minimal root file system as a tar: /etc/os-release, /bin, an absolute symlink."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name in ["bin", "etc", "usr", "usr/bin"]:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        data = b'NAME="flowpack test base"\n'
        info = tarfile.TarInfo("etc/os-release")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("usr/bin/os-release")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/os-release"
        tar.addfile(link)
    return raw.getvalue()


def push_base_image(host: str, tmp: Path, name: str = "base", tag: str = "v1") -> str:
    """Write a one-layer image as an OCI layout and ``skopeo copy`` it to ``host``."""
    layout = tmp / f"layout-{name}-{tag}"
    layout.mkdir()
    tar = root_filesystem()
    layer = _blob(layout, gzip.compress(tar, mtime=0))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin", "PYTHONPATH=/base"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [_sha(tar)]},
        "history": [{"created_by": "test base"}],
    }
    cfg = _blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }
    man = _blob(layout, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **man,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    dest = f"docker://{host}/{name}:{tag}"
    subprocess.run(
        ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:{tag}", dest],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return f"{host}/{name}:{tag}"


def pull_image(image: str, out: Path) -> tuple[dict[str, Any], dict[str, Any], list[bytes]]:
    """``skopeo copy`` ``image`` into an OCI layout at ``out``; its manifest, config, layers."""
    subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", f"docker://{image}", f"oci:{out}:x"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    index = json.loads((out / "index.json").read_text())

    def blob(digest: str) -> bytes:
        return (out / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()

    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    return manifest, config, [blob(layer["digest"]) for layer in manifest["layers"]]


def tar_entries(layer: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        return tar.getmembers()
