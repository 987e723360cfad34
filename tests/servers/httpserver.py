"""``flowpack serve`` as a test server: one session process serving a file:// store.

The fixture gives the URL, the served directory (so a test can look behind the server's back)
and tokens of every scope.  ``wipe()`` empties the store between tests that need a fresh one.
The server is the real CLI, in a subprocess, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flowpack.backends.http.auth import create_token
from servers.process import ServerProcess

SERVE = "from flowpack.cli.main import main; main()"


def serve_argv(store: Path, config: Path) -> list[str]:
    """The command line of ``flowpack --store STORE serve --config CONFIG ...`` (no port)."""
    return [sys.executable, "-c", SERVE, "--store", str(store), "serve", "--config", str(config)]


@dataclass
class FlowpackServer:
    """A running ``flowpack serve`` and the tokens it accepts."""

    process: ServerProcess
    store: Path
    config: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.process.endpoint

    def wipe(self) -> None:
        """Empty the served store (the directory itself stays)."""
        for child in self.store.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()


def start_flowpack_server(root: Path, *extra: str, tokens: bool = True) -> FlowpackServer:
    """Start ``flowpack serve`` over ``root/store`` with admin/write/read/prefixed tokens."""
    store, config = root / "store", root / "server.json"
    store.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    if tokens:
        for scope in ("admin", "write", "read"):
            made[scope] = create_token(config, scope)[0]
        made["team"] = create_token(config, "write", prefix="flows/team/")[0]
        made["expired"] = create_token(config, "admin", expires_in=-1)[0]
    base = serve_argv(store, config)
    process = ServerProcess(
        "flowpack-serve",
        lambda port: [*base, "--port", str(port), *extra],
        install_hint="pip install -e '.[server]'",
        start_timeout=30,
    )
    process.start()
    return FlowpackServer(process, store, config, made)


@pytest.fixture(scope="session")
def flowpack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowpackServer]:
    """One ``flowpack serve`` per test session (per xdist worker)."""
    server = start_flowpack_server(tmp_path_factory.mktemp("flowpack-serve"))
    try:
        yield server
    finally:
        server.process.stop()
