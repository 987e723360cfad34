"""Git test servers: ``git http-backend`` behind a small threaded HTTP host with Basic auth.

:class:`GitHttpServer` runs git's own smart-HTTP CGI (what git hosts run) for every request:
it passes the CGI variables (``GIT_PROJECT_ROOT``, ``GIT_HTTP_EXPORT_ALL``, ``REMOTE_USER``,
``GIT_PROTOCOL``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``, ``QUERY_STRING``, ``PATH_INFO``),
de-chunks chunked request bodies, and checks Basic auth against the credential pairs the tests
register (a token as the password, in each host's form).  Repositories are bare, made by
:meth:`GitHttpServer.new_repo` with ``uploadpack.allowFilter``, ``uploadpack.allowAnySHA1InWant``
and ``receive.denyNonFastForwards`` set.  The session fixture is ``git_http_server``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

GIT = shutil.which("git") or "git"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def git(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None) -> str:
    """Run git (tests only) and return its stdout; fail the test with its stderr on error."""
    run_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        **(env or {}),
    }
    done = subprocess.run([GIT, *args], cwd=cwd, env=run_env, capture_output=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def init_bare(path: Path) -> Path:
    """A bare repository at ``path`` configured like a host's protected repository."""
    git("init", "-q", "--bare", "-b", "main", str(path))
    for key, value in [
        ("uploadpack.allowFilter", "true"),
        ("uploadpack.allowAnySHA1InWant", "true"),
        ("receive.denyNonFastForwards", "true"),
        ("http.receivepack", "true"),
    ]:
        git("config", key, value, cwd=path)
    return path


def commit_files(repo: Path, files: dict[str, str | bytes], message: str = "c") -> str:
    """Commit ``files`` (path -> content) on ``main`` of the bare ``repo``; the new commit id."""
    work = Path(tempfile.mkdtemp(prefix="flowpack-gitwork-"))
    try:
        git("clone", "-q", str(repo), str(work / "w"))
        w = work / "w"
        if not (w / ".git" / "refs" / "heads" / "main").exists():
            git("checkout", "-q", "-B", "main", cwd=w)
        for rel, content in files.items():
            path = w / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode() if isinstance(content, str) else content
            path.write_bytes(data)
        git("add", "-A", cwd=w)
        git("commit", "-q", "-m", message, cwd=w)
        git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=w)
        return git("rev-parse", "HEAD", cwd=w).strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/api/"):
            self._answer_json(*self.server.json_routes.get(path, ("", None)))
            return
        user = self._user()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.requests += 1
        if self.server.fail_next:
            self.server.fail_next -= 1
            self.connection.close()
            return
        self._run_backend(user, self._body())

    def _user(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        if (user, password) in self.server.credentials:
            return user
        return user if any(check(user, password) for check in self.server.verifiers) else None

    def _answer_json(self, token: str, document: object) -> None:
        """A REST answer (e.g. GitLab's project API) for requests carrying ``token``."""
        self.server.api_requests += 1
        status = 200 if self.headers.get("PRIVATE-TOKEN") == token else 401
        if document is None:
            status = 404
        body = json.dumps(document if status == 200 else {"message": f"{status}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _run_backend(self, user: str, body: bytes) -> None:
        url = urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": user,
            "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run([HTTP_BACKEND], input=body, env=env, capture_output=True)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.credentials: set[tuple[str, str]] = set()
        self.verifiers: list[Callable[[str, str], bool]] = []
        self.json_routes: dict[str, tuple[str, object]] = {}
        self.api_requests = 0
        self.requests = 0
        self.fail_next = 0


class GitHttpServer:
    """``git http-backend`` over HTTP with Basic auth, serving bare repositories under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._server = _Server(root)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> GitHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> int:
        """How many authenticated requests reached the backend."""
        return self._server.requests

    def drop_next(self, count: int = 1) -> None:
        """Close the connection of the next ``count`` authenticated requests without answering."""
        self._server.fail_next = count

    def allow(self, user: str, password: str) -> None:
        """Accept Basic auth with this user name and password (a token, in a host's form)."""
        self._server.credentials.add((user, password))

    def verify(self, check: Callable[[str, str], bool]) -> None:
        """Also accept Basic auth for which ``check(user, password)`` is true (derived keys)."""
        self._server.verifiers.append(check)

    def answer_json(self, path: str, token: str, document: object) -> None:
        """Answer GET ``path`` with ``document`` as JSON when ``PRIVATE-TOKEN`` is ``token``."""
        self._server.json_routes[path] = (token, document)

    @property
    def api_requests(self) -> int:
        return self._server.api_requests

    def new_repo(self, name: str | None = None, suffix: str = ".git") -> tuple[Path, str]:
        """A fresh bare repository: its path on disk and its URL path (``/NAME.git``)."""
        name = (name or f"r-{uuid.uuid4().hex[:12]}") + suffix
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        init_bare(path)
        return path, f"/{name}"

    def url(self, url_path: str, user: str | None = None, password: str | None = None) -> str:
        """The http URL of a repository, with credentials when given."""
        host = self.endpoint.removeprefix("http://")
        auth = f"{user}:{password}@" if user is not None else ""
        return f"http://{auth}{host}{url_path}"


@pytest.fixture(scope="session")
def git_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    """The session's git smart-HTTP server; the user ``flowpack`` / ``s3cret-token`` is allowed."""
    if not os.path.exists(HTTP_BACKEND):
        pytest.fail(f"git http-backend is missing at {HTTP_BACKEND}: apt-get install -y git")
    server = GitHttpServer(tmp_path_factory.mktemp("git-http")).start()
    server.allow("flowpack", "s3cret-token")
    try:
        yield server
    finally:
        server.stop()


SSHD = "/usr/sbin/sshd"


class SshServer:
    """OpenSSH's ``sshd`` on 127.0.0.1 accepting one generated key for the current user."""

    def __init__(self, root: Path) -> None:
        from servers.process import ServerProcess

        self.root = root
        self.key = root / "client_key"
        host_key = root / "host_key"
        for path in (self.key, host_key):
            done = subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                capture_output=True,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"ssh-keygen failed: {done.stderr.decode(errors='replace')}")
        (root / "authorized_keys").write_bytes(Path(f"{self.key}.pub").read_bytes())
        config = root / "sshd_config"
        config.write_text(
            "ListenAddress 127.0.0.1\n"
            f"HostKey {host_key}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\n"
            f"PidFile {root / 'sshd.pid'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
        )
        self.process = ServerProcess(
            "sshd",
            lambda port: [SSHD, "-D", "-e", "-f", str(config), "-p", str(port)],
            install_hint="apt-get install -y openssh-server",
            start_timeout=20,
        )

    @property
    def port(self) -> int:
        return self.process.port

    def ssh_command(self, key: Path | None = None) -> str:
        """A ``GIT_SSH_COMMAND`` that reaches this server with ``key`` (the accepted one)."""
        return (
            f"ssh -i {key or self.key} -o StrictHostKeyChecking=no -o IdentitiesOnly=yes"
            " -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
        )

    def url(self, repo: Path) -> str:
        """The ssh:// URL of the bare repository at ``repo`` for the current user."""
        import getpass

        return f"ssh://{getpass.getuser()}@127.0.0.1:{self.port}{repo}"


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """The session's sshd (git over ssh runs the server's git-upload-pack / receive-pack)."""
    if not os.path.exists(SSHD):
        pytest.fail(f"sshd is missing at {SSHD}: apt-get install -y openssh-server")
    os.makedirs("/run/sshd", exist_ok=True)
    server = SshServer(tmp_path_factory.mktemp("sshd"))
    server.process.start()
    try:
        yield server
    finally:
        server.process.stop()
