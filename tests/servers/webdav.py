"""A generic WebDAV server that knows nothing of flowpack: wsgidav on cheroot, basic auth, a
directory provider.  PUT stores a file, GET fetches it; 401 without credentials."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from servers.process import ServerProcess


@dataclass
class WebDavServer:
    """A running wsgidav: its URL, the served directory and the one user's credentials."""

    process: ServerProcess
    root: Path
    user: str
    password: str

    @property
    def url(self) -> str:
        return self.process.endpoint


def _config(root: Path, port: int, user: str, password: str) -> dict[str, object]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "server": "cheroot",
        "provider_mapping": {"/": str(root)},
        "http_authenticator": {
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "simple_dc": {"user_mapping": {"*": {user: {"password": password}}}},
        "verbose": 1,
        "logging": {"enable_loggers": []},
    }


@pytest.fixture(scope="session")
def webdav_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDavServer]:
    """One wsgidav per test session (per xdist worker), serving an empty directory."""
    base = tmp_path_factory.mktemp("webdav")
    root = base / "files"
    root.mkdir()
    user, password = "flows", secrets.token_urlsafe(16)
    conf = base / "wsgidav.json"
    wsgidav = shutil.which("wsgidav") or "wsgidav"

    def argv(port: int) -> list[str]:
        conf.write_text(json.dumps(_config(root, port, user, password)))
        return [wsgidav, "--config", str(conf)]

    process = ServerProcess("wsgidav", argv, install_hint="pip install wsgidav cheroot")
    process.start()
    try:
        yield WebDavServer(process, root, user, password)
    finally:
        process.stop()
