"""The CLI against a live ``flowpack serve``: push, pull and verify over http://, tokens made
by ``flowpack token create``, the listening policy, and TLS."""

from __future__ import annotations

import datetime
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from flowpack.backends.http.opener import open_http
from flowpack.cas.errors import PermissionDenied, TransientBackendError
from servers.httpserver import SERVE, FlowpackServer, start_flowpack_server


def flowpack(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``flowpack`` command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-c", SERVE, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_push_pull_verify_over_http(
    flowpack_server: FlowpackServer, tree: Path, tmp_path: Path
) -> None:
    flowpack_server.wipe()
    env = {"FLOWPACK_TOKEN": flowpack_server.tokens["write"]}
    url = flowpack_server.url
    pushed = flowpack("--store", url, "push", tree, "--ref", "x", env=env)
    assert pushed.returncode == 0, pushed.stderr
    digest = pushed.stdout.strip()
    assert digest.startswith("blake3:")
    assert any(flowpack_server.store.glob("packs/*")), "the packs landed in the served store"
    again = flowpack("--store", url, "--json", "push", tree, "--ref", "x", env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["digest"] == digest
    out = tmp_path / "out"
    pulled = flowpack("--store", url, "pull", "x", out, env=env)
    assert pulled.returncode == 0, pulled.stderr
    for path in tree.rglob("*"):
        if path.is_file():
            assert (out / path.relative_to(tree)).read_bytes() == path.read_bytes()
    verified = flowpack("--store", url, "verify", "--read-data", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    direct = flowpack("--store", flowpack_server.store, "verify", "--read-data")
    assert direct.returncode == 0, direct.stdout + direct.stderr
    reader = {"FLOWPACK_TOKEN": flowpack_server.tokens["read"]}
    again_out = tmp_path / "again"
    assert flowpack("--store", url, "pull", "x", again_out, env=reader).returncode == 0
    assert flowpack("--store", url, "verify", env=reader).returncode == 0


def test_a_read_token_cannot_push(flowpack_server: FlowpackServer, tree: Path) -> None:
    token = flowpack_server.tokens["read"]
    result = flowpack(
        "--store", flowpack_server.url, "push", tree, "--ref", "y", env={"FLOWPACK_TOKEN": token}
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowpack: error:"), result.stderr
    assert token not in result.stderr + result.stdout


def test_token_create_prints_it_once_and_keeps_only_a_hash(flowpack_server: FlowpackServer) -> None:
    result = flowpack("token", "create", "--scope", "read", "--config", flowpack_server.config)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("fpk_") and token not in result.stderr
    text = flowpack_server.config.read_text()
    assert token not in text
    assert stat.S_IMODE(flowpack_server.config.stat().st_mode) == 0o600
    with open_http(flowpack_server.url, token=token) as location:  # no restart needed
        assert location.capabilities.read_only


def test_serve_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    result = flowpack(
        "--store", tmp_path / "s", "serve", "--host", "0.0.0.0", "--config", tmp_path / "none.json"
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the "serving" notice, then the error


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server = start_flowpack_server(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        url = f"https://127.0.0.1:{server.process.port}"
        with open_http(url, token=server.tokens["admin"], verify=str(cert)) as location:
            location.blobs.put("blobs/tls", b"secret bytes")
            assert location.blobs.get("blobs/tls") == b"secret bytes"
        with pytest.raises(TransientBackendError):  # an unknown certificate is refused
            open_http(url, token=server.tokens["admin"])
        with pytest.raises(TransientBackendError):  # plain http to a TLS port fails
            open_http(server.url, token=server.tokens["admin"])
    finally:
        server.process.stop()


def test_token_ls_and_revoke(flowpack_server: FlowpackServer) -> None:
    config = flowpack_server.config
    made = flowpack("--json", "token", "create", "--scope", "write", "--config", config)
    doc = json.loads(made.stdout)
    with open_http(flowpack_server.url, token=doc["token"]) as location:
        assert not location.capabilities.read_only
    listed = flowpack("--json", "token", "ls", "--config", config)
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows[doc["id"]]["scope"] == "write"
    assert any(row["expired"] for row in rows.values())  # the fixture's expired token
    assert doc["token"] not in listed.stdout
    assert flowpack("token", "revoke", doc["id"], "--config", config).returncode == 0
    with pytest.raises(PermissionDenied):
        open_http(flowpack_server.url, token=doc["token"])
    again = flowpack("token", "revoke", doc["id"], "--config", config)
    assert again.returncode == 1 and "no token" in again.stderr


def test_a_damaged_token_config_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "server.json"
    bad.write_text("{not json")
    result = flowpack("--store", tmp_path / "s", "serve", "--config", bad)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("flowpack: error: server config")


def test_the_token_option_works_like_the_environment_variable(
    flowpack_server: FlowpackServer, tree: Path
) -> None:
    """ "clients send the token from FLOWPACK_TOKEN or --token": the option alone suffices, and
    it wins over the variable."""
    env = {k: v for k, v in os.environ.items() if k != "FLOWPACK_TOKEN"}
    token = flowpack_server.tokens["write"]
    url = flowpack_server.url
    pushed = subprocess.run(
        [sys.executable, "-c", SERVE, "--store", url, "--token", token, "push", str(tree)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert pushed.returncode == 0, pushed.stderr
    wrong = flowpack(
        "--store",
        url,
        "--token",
        flowpack_server.tokens["read"],
        "push",
        tree,
        env={"FLOWPACK_TOKEN": token},
    )
    assert wrong.returncode != 0 and token not in wrong.stderr


def test_insecure_is_refused_where_it_means_nothing(tmp_path: Path) -> None:
    result = flowpack("--store", tmp_path / "s", "--insecure", "ls", "x")
    assert result.returncode == 2
    assert "--insecure applies to oci+http(s):// registries only" in result.stderr
