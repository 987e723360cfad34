"""The distribution registry (Debian's ``docker-registry``) as session fixtures.

``registry`` is an open registry; ``auth_registry`` asks for Basic credentials checked against
an htpasswd file (bcrypt) written here.  Both keep their data in a temporary directory
(filesystem storage, deletes enabled) and listen on 127.0.0.1 only.  Each hands out fresh
repository names, so every test works in an empty repository.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers.process import ServerProcess

INSTALL = "apt-get install -y docker-registry skopeo"
USER = "flowpack-ci"


class Registry:
    """A running registry: ``endpoint`` (``http://127.0.0.1:PORT``), its data under ``root``."""

    def __init__(self, process: ServerProcess, root: Path, password: str | None) -> None:
        self.process = process
        self.root = root
        self.username = USER if password else None
        self.password = password

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.process.port}"

    @property
    def endpoint(self) -> str:
        return self.process.endpoint

    def fresh_repo(self) -> str:
        return f"t/{uuid.uuid4().hex[:16]}"

    def fresh_url(self) -> str:
        """A store URL naming a fresh (empty) repository."""
        return f"oci+http://{self.host}/{self.fresh_repo()}"

    def options(self) -> dict[str, str]:
        """The opener options that authenticate to this registry (none for an open one)."""
        if self.password is None:
            return {}
        assert self.username is not None
        return {"username": self.username, "password": self.password}

    def blob_file(self, digest: str) -> Path:
        """Where the filesystem driver keeps blob ``sha256:<hex>`` (to damage it in tests)."""
        hexd = digest.removeprefix("sha256:")
        return self.root / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"


def _config(root: Path, port: int, htpasswd: Path | None, delete: bool = True) -> str:
    auth = ""
    if htpasswd is not None:
        auth = f"auth:\n  htpasswd:\n    realm: flowpack-test\n    path: {htpasswd}\n"
    return (
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}\n"
        f"  delete:\n    enabled: {'true' if delete else 'false'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: {secrets.token_hex(16)}\n" + auth
    )


def _htpasswd(path: Path, password: str) -> Path:
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    path.write_text(f"{USER}:{hashed}\n")
    return path


def _start(with_auth: bool, delete: bool = True) -> Iterator[Registry]:
    if shutil.which("docker-registry") is None:
        pytest.fail(f"docker-registry is not installed: {INSTALL}")
    tmp = Path(tempfile.mkdtemp(prefix="flowpack-registry-"))
    root = tmp / "data"
    root.mkdir()
    password = secrets.token_urlsafe(12) if with_auth else None
    htpasswd = _htpasswd(tmp / "htpasswd", password) if password else None
    config = tmp / "config.yml"
    process = ServerProcess(
        "docker-registry",
        lambda port: ["docker-registry", "serve", str(config)],
        install_hint=INSTALL,
    )
    config.write_text(_config(root, process.port, htpasswd, delete))
    process.start()
    try:
        yield Registry(process, root, password)
    finally:
        process.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """An open distribution registry on 127.0.0.1."""
    yield from _start(with_auth=False)


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[Registry]:
    """A distribution registry that wants Basic credentials (``options()`` gives them)."""
    yield from _start(with_auth=True)


@pytest.fixture(scope="session")
def no_delete_registry() -> Iterator[Registry]:
    """An open registry with deletes disabled (the distribution registry's default)."""
    yield from _start(with_auth=False, delete=False)
