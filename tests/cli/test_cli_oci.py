"""End to end: the ``flowpack`` command against the distribution registry (``oci+http://``)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from servers.registry import Registry


def _flowpack(store: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    main = "from flowpack.cli.main import main; main()"
    argv = [sys.executable, "-c", main, "--store", store, *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


def test_push_pull_verify_through_a_registry(auth_registry: Registry, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "flow.py").write_text("print('hello')\n")
    (src / "sub" / "data.bin").write_bytes(os.urandom(300_000))
    docker = tmp_path / "docker"
    docker.mkdir()
    opts = auth_registry.options()
    token = base64.b64encode(f"{opts['username']}:{opts['password']}".encode()).decode()
    (docker / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": token}}})
    )
    env = {**os.environ, "DOCKER_CONFIG": str(docker)}
    store = auth_registry.fresh_url()

    pushed = _flowpack(store, "push", str(src), "--ref", "x", env=env)
    assert pushed.returncode == 0, pushed.stderr
    digest = pushed.stdout.strip()
    assert digest.startswith("blake3:")
    again = _flowpack(store, "push", str(src), "--ref", "x", env=env)
    assert again.returncode == 0 and again.stdout.strip() == digest

    dest = tmp_path / "dest"
    pulled = _flowpack(store, "pull", "x", str(dest), env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert (dest / "flow.py").read_text() == "print('hello')\n"
    assert (dest / "sub" / "data.bin").read_bytes() == (src / "sub" / "data.bin").read_bytes()

    verified = _flowpack(store, "verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("ok")
    assert opts["password"] not in pushed.stderr + pulled.stderr + verified.stdout

    refused = _flowpack(store, "pull", "x", str(tmp_path / "d2"), env={**env, "DOCKER_CONFIG": "/"})
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "Traceback" not in refused.stderr
