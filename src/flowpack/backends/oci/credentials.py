"""Where registry credentials come from, in order: options, then Docker's client configuration.

1. ``username=`` and ``password=`` options given to the opener;
2. ``~/.docker/config.json`` (or ``$DOCKER_CONFIG/config.json``, or the ``docker_config=``
   option): a credential helper named for the host in ``credHelpers``, then the host's entry in
   ``auths`` (``auth`` is base64 of ``user:password``; ``identitytoken`` is an OAuth refresh
   token), then the default helper ``credsStore``.  A helper is the program
   ``docker-credential-NAME``, run as ``docker-credential-NAME get`` with the server on stdin and
   answering ``{"Username": ..., "Secret": ...}``, as Docker runs it.
3. none: anonymous requests (public registries hand out pull tokens without credentials).

A :class:`Credentials` never shows its secret in ``repr``; nothing here logs one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowpack.cas.errors import PermissionDenied, UsageError

__all__ = ["Credentials", "find_credentials"]

HELPER_TIMEOUT = 30.0
DOCKER_HUB_NAMES = frozenset({"registry-1.docker.io", "index.docker.io", "docker.io"})
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
#: What a helper's ``Username`` says when its ``Secret`` is an identity (refresh) token.
IDENTITY_TOKEN_USER = "<token>"


@dataclass(frozen=True)
class Credentials:
    """A user name and a secret (password, personal token), or an identity token."""

    username: str
    secret: str = field(repr=False)
    identity_token: bool = False
    source: str = "options"

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def find_credentials(
    host: str,
    *,
    username: str | None = None,
    password: str | None = None,
    docker_config: str | os.PathLike[str] | None = None,
) -> Credentials | None:
    """The credentials for registry ``host`` (``host`` or ``host:port``), or None.

    Raises :class:`UsageError` for a half-given pair of options or an unreadable config file,
    and :class:`PermissionDenied` when a configured helper fails (its output is not quoted:
    it may hold a secret).
    """
    if (username is None) != (password is None):
        raise UsageError("give both username= and password= for the registry, or neither")
    if username is not None and password is not None:
        return Credentials(username, password)
    config = _load_config(docker_config)
    server = DOCKER_HUB_SERVER if host in DOCKER_HUB_NAMES else host
    helpers = _str_map(config.get("credHelpers"))
    helper = helpers.get(host) or helpers.get(server)
    if helper:
        found = run_helper(helper, server)
        if found is not None:
            return found
    entry = _auth_entry(_dict_map(config.get("auths")), host)
    if entry is not None:
        return _from_auth_entry(entry, host)
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return run_helper(store, server)
    return None


def _load_config(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    if path is None:
        base = os.environ.get("DOCKER_CONFIG")
        file = Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"
        if not file.exists():
            return {}
    else:
        file = Path(path)
        if file.is_dir():
            file = file / "config.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the Docker client configuration {file}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"the Docker client configuration {file} is not a JSON object")
    return data


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _dict_map(value: object) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}


def _auth_entry(auths: dict[str, dict[str, Any]], host: str) -> dict[str, Any] | None:
    """The ``auths`` entry for ``host``: keys may be ``host``, ``https://host/v1/``...
    (Docker Hub's is ``https://index.docker.io/v1/`` though its registry is another host)."""
    names = DOCKER_HUB_NAMES if host in DOCKER_HUB_NAMES else {host}
    for key, entry in auths.items():
        bare = key.split("://", 1)[-1].split("/", 1)[0]
        if bare in names:
            return entry
    return None


def _from_auth_entry(entry: dict[str, Any], host: str) -> Credentials | None:
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        return Credentials(IDENTITY_TOKEN_USER, token, identity_token=True, source="config")
    user, secret = entry.get("username"), entry.get("password")
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, _, secret = base64.b64decode(auth, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UsageError(
                f"the Docker configuration's auth entry for {host} is damaged"
            ) from exc
    if isinstance(user, str) and isinstance(secret, str) and user:
        return Credentials(user, secret, source="config")
    return None


def run_helper(name: str, host: str) -> Credentials | None:
    """Ask ``docker-credential-NAME`` for ``host``'s credentials; None if it has none."""
    program = shutil.which(f"docker-credential-{name}")
    if program is None:
        raise PermissionDenied(
            f"credential helper docker-credential-{name} (configured for {host}) is not on PATH"
        )
    try:
        done = subprocess.run(
            [program, "get"],
            input=host.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PermissionDenied(f"credential helper docker-credential-{name} failed") from exc
    if done.returncode != 0:
        if b"not found" in done.stdout.lower() or b"not found" in done.stderr.lower():
            return None  # the helper's documented answer for an unknown server
        raise PermissionDenied(
            f"credential helper docker-credential-{name} exited with {done.returncode} for {host}"
        )
    try:
        answer = json.loads(done.stdout)
        user, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PermissionDenied(
            f"credential helper docker-credential-{name} gave an unreadable answer for {host}"
        ) from exc
    if not isinstance(user, str) or not isinstance(secret, str):
        raise PermissionDenied(f"credential helper docker-credential-{name} answered no strings")
    source = f"docker-credential-{name}"
    if user == IDENTITY_TOKEN_USER:
        return Credentials(user, secret, identity_token=True, source=source)
    return Credentials(user, secret, source=source)
