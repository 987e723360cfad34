"""A registry token service (the Docker token authentication spec) and a registry that uses it.

``token_registry`` runs the distribution registry with ``auth.token``: it answers ``401`` with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` and accepts RS256 JWTs whose
``x5c`` certificate chains to the bundle it was given.  The token service here (a threaded
HTTP server in the test process) checks Basic credentials and grants the scopes asked for.
It counts the tokens it issued, so tests can see the flow happened.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from servers.process import ServerProcess
from servers.registry import INSTALL, USER, Registry

SERVICE = "flowpack-test-registry"
ISSUER = "flowpack-test-issuer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """Issues JWTs for ``USER``/``password`` on 127.0.0.1; ``issued`` counts them."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flowpack test token issuer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.issued = 0
        self.scopes: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                service.answer(self)

            def do_POST(self) -> None:
                service.answer_refresh(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        expected = "Basic " + base64.b64encode(f"{USER}:{self.password}".encode()).decode()
        if handler.headers.get("Authorization") != expected:
            handler.send_response(401)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        query = parse_qs(urlsplit(handler.path).query)
        scopes = [s for value in query.get("scope", []) for s in value.split()]
        self.scopes.extend(scopes)
        body = json.dumps({"token": self.token(scopes), "expires_in": 300}).encode()
        self.issued += 1
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def answer_refresh(self, handler: BaseHTTPRequestHandler) -> None:
        """The OAuth2 refresh-token grant: the password serves as the identity token."""
        length = int(handler.headers.get("Content-Length", "0"))
        form = parse_qs(handler.rfile.read(length).decode())
        ok = form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [
            self.password
        ]
        if not ok:
            handler.send_response(401)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        scopes = [s for value in form.get("scope", []) for s in value.split()]
        body = json.dumps({"access_token": self.token(scopes), "expires_in": 300}).encode()
        self.issued += 1
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        der = self.cert.public_bytes(serialization.Encoding.DER)
        header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(der).decode()]}
        claims = {
            "iss": ISSUER,
            "sub": USER,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{_b64(signature)}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def token_registry() -> Iterator[tuple[Registry, TokenService]]:
    """A registry that wants bearer tokens from a token service running in the test process."""
    if shutil.which("docker-registry") is None:
        pytest.fail(f"docker-registry is not installed: {INSTALL}")
    tmp = Path(tempfile.mkdtemp(prefix="flowpack-token-registry-"))
    password = secrets.token_urlsafe(12)
    tokens = TokenService(password)
    (tmp / "issuer.pem").write_bytes(tokens.cert_pem())
    config = tmp / "config.yml"
    process = ServerProcess(
        "docker-registry",
        lambda port: ["docker-registry", "serve", str(config)],
        install_hint=INSTALL,
    )
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{process.port}\n  secret: {secrets.token_hex(16)}\n"
        f"auth:\n  token:\n    realm: {tokens.realm}\n    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n    rootcertbundle: {tmp / 'issuer.pem'}\n"
    )
    process.start()
    try:
        yield Registry(process, tmp / "data", password), tokens
    finally:
        process.stop()
        tokens.close()
        shutil.rmtree(tmp, ignore_errors=True)
