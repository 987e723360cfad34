"""Counting the S3 requests flowpack makes: moto's S3 server behind a counting WSGI layer.

Run as a server: ``python s3count.py PORT`` serves moto on 127.0.0.1:PORT and adds two routes:
``GET /_bench/counts`` (requests so far by kind, as JSON) and ``POST /_bench/reset``.
Kinds are ``GET``, ``GET range``, ``HEAD``, ``PUT``, ``LIST``, ``DELETE``, ``POST`` and the bytes
sent in request and response bodies.  :class:`S3Counter` starts and stops such a server for the
harness, and :func:`measure_s3` pushes a corpus through it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from measure import Meter, python_env

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def classify(environ: Environ) -> str:
    """The kind of one S3 request, from its method, path and query."""
    method = str(environ["REQUEST_METHOD"])
    query = str(environ.get("QUERY_STRING", ""))
    path = str(environ.get("PATH_INFO", "")).strip("/")
    if method == "GET" and ("list-type" in query or "/" not in path):
        return "LIST"
    if method == "GET" and environ.get("HTTP_RANGE"):
        return "GET range"
    return method


class CountingApp:
    """A WSGI layer that counts requests by kind before handing them to moto."""

    def __init__(self, app: Callable[[Environ, StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_bench/counts":
            with self.lock:
                body = json.dumps(dict(self.counts)).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == "/_bench/reset":
            with self.lock:
                self.counts.clear()
            start_response("204 No Content", [])
            return [b""]
        with self.lock:
            self.counts[classify(environ)] += 1
            self.counts["bytes up"] += int(environ.get("CONTENT_LENGTH") or 0)
        return self._count_out(self.app(environ, start_response))

    def _count_out(self, body: Iterable[bytes]) -> Iterable[bytes]:
        n = 0
        for piece in body:
            n += len(piece)
            yield piece
        with self.lock:
            self.counts["bytes down"] += n


def serve(port: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = CountingApp(DomainDispatcherApplication(create_backend_app))
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


class S3Counter:
    """A counting moto server in a child process, for one ``with`` block."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> S3Counter:
        here = Path(__file__).resolve().parent
        self.proc = subprocess.Popen(
            [sys.executable, str(here / "s3count.py"), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.counts()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def create_bucket(self, name: str) -> None:
        req = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        req.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=testing/x/us-east-1/s3/aws4")
        urllib.request.urlopen(req, timeout=10).read()
        self.reset()

    def counts(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.endpoint}/_bench/counts", timeout=5) as resp:
            return dict(json.loads(resp.read()))

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.endpoint}/_bench/reset", method="POST")
        urllib.request.urlopen(req, timeout=5).read()


def s3_available(exe: str) -> bool:
    """Whether the installed flowpack has an ``s3://`` backend."""
    code = "from flowpack.cas.registry import known_schemes; print(' '.join(known_schemes()))"
    python = Path(exe).with_name("python")
    run = Meter().run([str(python if python.exists() else sys.executable), "-c", code])
    return "s3" in run.stdout.decode().split()


def requests_total(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if not k.startswith("bytes"))


def measure_s3(exe: str, corpus: str, versions: list[Path], work: Path) -> dict[str, Any]:
    """Push ``versions`` to ``s3://bench/<corpus>`` on a counting moto; pull the last one.

    Returns the request counts of all pushes, of the last push alone, and of the pull, plus the
    wall times of all pushes and of the pull; ``{"error": ...}`` when the S3 backend is missing
    or fails.
    """
    if not s3_available(exe):
        return {"error": "n/a (s3 adapter missing)"}
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with S3Counter() as s3:
        s3.create_bucket("bench")
        env = python_env(work.parent.parent / "pycache", s3.env())
        env["FLOWPACK_CACHE"] = str(work / "cache")
        url = f"s3://bench/{corpus}"
        meter = Meter()
        out: dict[str, Any] = {}
        digest = ""
        try:
            for i, version in enumerate(versions):
                if i == len(versions) - 1:
                    out["all_but_last"] = s3.counts()
                    s3.reset()
                run = meter.run(
                    [
                        exe,
                        "--store",
                        url,
                        "--json",
                        "push",
                        str(version),
                        "--ref",
                        f"bench/{corpus}",
                    ],
                    env=env,
                )
                digest = json.loads(run.stdout)["digest"]
            out["last_push"] = s3.counts()
            out["push_wall"] = meter.wall
            s3.reset()
            shutil.rmtree(work / "restore", ignore_errors=True)
            pull = meter.run([exe, "--store", url, "pull", digest, str(work / "restore")], env=env)
            out["pull"] = s3.counts()
            out["pull_wall"] = pull.wall
        except RuntimeError as exc:
            return {"error": f"failed: {str(exc).splitlines()[0][:200]}"}
        all_pushes = Counter(out["all_but_last"])
        all_pushes.update(out["last_push"])
        out["all_pushes"] = dict(all_pushes)
        return out


if __name__ == "__main__":
    serve(int(sys.argv[1]))
