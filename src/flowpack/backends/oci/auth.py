"""Registry authentication as an ``httpx.Auth``: answering Basic and Bearer challenges.

A request goes out with what worked before for its repository (a bearer token, or Basic
credentials once the registry asked for them).  On ``401`` the ``WWW-Authenticate`` challenge
decides: ``Basic`` resends with the credentials; ``Bearer realm=...,service=...,scope=...``
fetches a token from the realm (a GET with Basic credentials, or the OAuth2 refresh-token POST
for an identity token) and resends with it.  Each request is resent at most once; a second
``401`` reaches the caller, which reports :class:`PermissionDenied`.

Tokens are kept per repository in memory only, never logged, never put in an error message.
Thread-safe (httpx calls ``auth_flow`` from every thread using the client).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Generator

import httpx

from flowpack.backends.oci.credentials import Credentials
from flowpack.backends.oci.errors import shown_url
from flowpack.cas.errors import PermissionDenied

__all__ = ["RegistryAuth", "parse_challenge"]

_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_REPO_PATH = re.compile(r"^/v2/(.+?)/(?:blobs|manifests|tags)/")
MAX_TOKEN_ANSWER = 1 << 20


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``('bearer', {'realm': ..., 'service': ..., 'scope': ...})`` from a challenge header."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(rest)
    }
    return scheme.lower(), {k: v.replace('\\"', '"') for k, v in params.items()}


class RegistryAuth(httpx.Auth):
    """Answers a registry's challenges with ``credentials`` (None: anonymous)."""

    requires_response_body = True

    def __init__(self, credentials: Credentials | None) -> None:
        self.credentials = credentials
        self._lock = threading.Lock()
        self._basic = False
        self._tokens: dict[str, str] = {}
        self._scopes: dict[str, set[str]] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        repo = _repository_of(request)
        self._authorize(request, repo)
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("www-authenticate", ""))
        if scheme == "basic":
            if self.credentials is None or self.credentials.identity_token:
                return
            with self._lock:
                self._basic = True
            request.headers["Authorization"] = self.credentials.basic_header()
            yield request
            return
        if scheme != "bearer" or "realm" not in params:
            return
        with self._lock:  # ask for every scope this repository needed so far, not only this one
            scopes = self._scopes.setdefault(repo, set())
            scopes.update(params.get("scope", "").split())
            wanted = sorted(scopes)
        token_request = self._token_request(params, wanted)
        answer = yield token_request
        token = _token_from(answer, token_request)
        with self._lock:
            self._tokens[repo] = token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _authorize(self, request: httpx.Request, repo: str) -> None:
        with self._lock:
            token = self._tokens.get(repo)
            basic = self._basic
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token}"
        elif basic and self.credentials is not None:
            request.headers["Authorization"] = self.credentials.basic_header()

    def _token_request(self, params: dict[str, str], scopes: list[str]) -> httpx.Request:
        query: dict[str, str | list[str]] = {"scope": scopes}
        if "service" in params:
            query["service"] = params["service"]
        creds = self.credentials
        if creds is not None and creds.identity_token:
            form = {
                "service": params.get("service", ""),
                "scope": " ".join(scopes),
                "client_id": "flowpack",
                "grant_type": "refresh_token",
                "refresh_token": creds.secret,
            }
            return httpx.Request("POST", params["realm"], data=form)
        headers = {"Authorization": creds.basic_header()} if creds is not None else {}
        return httpx.Request("GET", params["realm"], params=query, headers=headers)


def _repository_of(request: httpx.Request) -> str:
    m = _REPO_PATH.match(request.url.path)
    return m.group(1) if m else ""


def _token_from(answer: httpx.Response, request: httpx.Request) -> str:
    where = shown_url(request.url)
    if answer.status_code != 200:
        raise PermissionDenied(
            f"the registry's token service refused a token: HTTP {answer.status_code} ({where}):"
            " check the credentials for this registry"
        )
    try:
        body = json.loads(answer.content[:MAX_TOKEN_ANSWER])
        token = body.get("token") or body.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token or any(c in token for c in "\r\n "):
        raise PermissionDenied(f"the registry's token service gave no usable token ({where})")
    return token
