"""An HTTP proxy for fault tests and request counting, placed between a client and a real server.

The client is pointed at :attr:`FaultProxy.endpoint` instead of the server's.  The proxy forwards
every request and records it (method, path, bytes sent, status); on demand it

- answers the next N requests itself with an error status (a "500 storm"),
- calls a hook before forwarding (e.g. to kill the server at the k-th pack upload), and drops
  the client's connection when the server cannot be reached, as a dead server would,
- forwards a request and then drops the connection instead of answering (a lost response),
- strips preconditions (``If-Match``, ``If-None-Match``, GCS ``ifGenerationMatch``) so that the
  server behaves like an endpoint that ignores them.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
}
_PRECONDITION_HEADERS = {"if-match", "if-none-match"}
_PRECONDITION_PARAMS = {"ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch"}


@dataclass
class Request:
    """One request the proxy saw."""

    method: str
    path: str
    query: str
    sent: int
    head: bytes = b""
    status: int = 0

    @property
    def is_write(self) -> bool:
        return self.method in ("PUT", "POST", "PATCH")

    def names(self, part: str) -> bool:
        """Whether the request is about an object whose name contains ``part`` (``/packs/``):
        in the URL path, or in the metadata of a GCS multipart upload."""
        return part in self.path or part.encode() in self.head


class FaultProxy:
    """A threaded proxy on a free port of 127.0.0.1 in front of ``upstream`` (``http://h:p``)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.upstream_path = parts.path.rstrip("/")
        self.requests: list[Request] = []
        self.strip_preconditions = False
        self.before_forward: Callable[[Request], None] | None = None
        #: Forward the next request, then drop the connection instead of answering it.
        self.drop_response_once = False
        self._fail: list[int] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        """The proxy's URL, with the upstream's path (``http://127.0.0.1:P/devstoreaccount1``)."""
        return f"http://127.0.0.1:{self.port}{self.upstream_path}"

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next ``n`` requests with ``status`` instead of forwarding them."""
        with self._lock:
            self._fail = [status] * n

    def pending_failures(self) -> int:
        with self._lock:
            return len(self._fail)

    def reset(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests = []

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- forwarding ---------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = _read_body(h)
        path, _, query = h.path.partition("?")
        rec = Request(h.command, path, query, len(body), body[:1024])
        with self._lock:
            self.requests.append(rec)
            status = self._fail.pop(0) if self._fail else 0
        if status:
            rec.status = status
            payload = b"injected fault"
            h.send_response(status)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            if h.command != "HEAD":  # a reply to HEAD has no body (HTTP/1.1)
                h.wfile.write(payload)
            return
        if self.before_forward is not None:
            self.before_forward(rec)
        headers = [(k, v) for k, v in h.headers.items() if k.lower() not in _HOP]
        if self.strip_preconditions:
            headers = [(k, v) for k, v in headers if k.lower() not in _PRECONDITION_HEADERS]
            query = urlencode(
                [
                    (k, v)
                    for k, v in parse_qsl(query, keep_blank_values=True)
                    if k not in _PRECONDITION_PARAMS
                ]
            )
        target = path + (f"?{query}" if query else "")
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)
        try:
            conn.putrequest(h.command, target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            if body or h.command in ("PUT", "POST", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
        except OSError:
            h.close_connection = True  # the server is gone: drop the client's connection
            return
        finally:
            conn.close()
        rec.status = resp.status
        with self._lock:
            drop, self.drop_response_once = self.drop_response_once, False
        if drop:
            h.close_connection = True
            return
        h.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in _HOP:
                h.send_header(k, v)
        if h.command == "HEAD" or resp.status in (204, 304):
            length = resp.getheader("Content-Length")
            if length is not None and h.command == "HEAD":
                h.send_header("Content-Length", length)
        else:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD" and data:
            h.wfile.write(data)


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += h.rfile.read(size)
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""
