"""Scoped bearer tokens for ``flowpack serve``, kept hashed in the server's config file.

A token is ``fpk_<id>_<secret>``: ``id`` (8 hex digits) names it in listings and logs, and only
the sha256 of the whole token is stored, so the config file holds nothing that grants access.
Scopes are ordered: ``read`` < ``write`` < ``admin``.  A token may carry a ref prefix: then it
may change (create, move, delete) only refs under that prefix; reading is governed by the scope
alone, since blobs are shared by every ref.  A token may expire.  :meth:`TokenBook.check`
compares the presented token's hash with every stored hash in constant time.

The config file is JSON ``{"tokens": [{"id", "sha256", "scope", "prefix", "created",
"expires"}]}``, written atomically with mode 0600.  The server re-reads it when it changes, so a
token created while the server runs is accepted at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from flowpack.cas.errors import UsageError

__all__ = [
    "SCOPES",
    "Grant",
    "TokenBook",
    "create_token",
    "default_config_path",
    "list_tokens",
    "revoke_token",
    "scope_allows",
]

SCOPES = ("read", "write", "admin")
ENV_CONFIG = "FLOWPACK_SERVER_CONFIG"
_PREFIX = "fpk_"


def scope_allows(granted: str, needed: str) -> bool:
    """Whether a ``granted`` scope covers a ``needed`` one (admin covers write covers read)."""
    return SCOPES.index(granted) >= SCOPES.index(needed)


def default_config_path() -> Path:
    """``$FLOWPACK_SERVER_CONFIG``, else ``$XDG_CONFIG_HOME/flowpack/server.json``."""
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "flowpack" / "server.json"


@dataclass(frozen=True)
class Grant:
    """What one stored token allows.  ``prefix`` limits the refs it may change."""

    id: str
    sha256: str
    scope: str
    prefix: str = ""
    created: float = 0.0
    expires: float | None = None

    def may_change_ref(self, name: str) -> bool:
        """Whether this grant may create, move or delete ref ``name``."""
        if self.scope == "admin":
            return True
        return scope_allows(self.scope, "write") and name.startswith(self.prefix)


class TokenBook:
    """The tokens of one config file, re-read when the file changes.  Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._grants: tuple[Grant, ...] = ()

    def grants(self) -> tuple[Grant, ...]:
        """The stored grants (re-read if the file changed); empty if there is no file."""
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._grants = _load(self.path) if stamp is not None else ()
                self._stamp = stamp
            return self._grants

    def check(self, presented: str, now: float | None = None) -> Grant | None:
        """The grant of ``presented`` if it is a stored, unexpired token, else None.

        Every stored hash is compared (``hmac.compare_digest``), whatever matches first.
        """
        digest = hashlib.sha256(presented.encode()).hexdigest()
        found: Grant | None = None
        for grant in self.grants():
            if hmac.compare_digest(digest, grant.sha256) and found is None:
                found = grant
        now = time.time() if now is None else now
        if found is not None and found.expires is not None and found.expires <= now:
            return None
        return found


def create_token(
    path: Path, scope: str, prefix: str = "", expires_in: float | None = None
) -> tuple[str, Grant]:
    """Make a token, add its hash to the config file at ``path``; return the token and grant.

    The token itself is returned once and stored nowhere.  The file is rewritten atomically
    (temp file + rename) under an exclusive lock, so concurrent creators lose nothing.
    Raises :class:`UsageError` for an unknown scope or a damaged config file.
    """
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}")
    token_id = secrets.token_hex(4)
    token = f"{_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    now = time.time()
    grant = Grant(
        id=token_id,
        sha256=hashlib.sha256(token.encode()).hexdigest(),
        scope=scope,
        prefix=prefix,
        created=now,
        expires=None if expires_in is None else now + expires_in,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        grants = list(_load(path)) if path.exists() else []
        grants.append(grant)
        _save(path, grants)
    return token, grant


def list_tokens(path: Path) -> tuple[Grant, ...]:
    """The grants stored at ``path`` (none if there is no file); hashes only, never tokens."""
    return _load(path) if path.exists() else ()


def revoke_token(path: Path, token_id: str) -> bool:
    """Remove the token ``token_id`` from ``path``; False if there was none.  Atomic, locked."""
    if not path.exists():
        return False
    with _locked(path):
        grants = list(_load(path))
        kept = [g for g in grants if g.id != token_id]
        if len(kept) == len(grants):
            return False
        _save(path, kept)
    return True


def _load(path: Path) -> tuple[Grant, ...]:
    try:
        doc = json.loads(path.read_text())
        return tuple(_grant(item) for item in doc.get("tokens", []))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise UsageError(f"server config {path} is not valid: {type(exc).__name__}") from None


def _grant(item: dict[str, object]) -> Grant:
    grant = Grant(**item)  # type: ignore[arg-type]
    if grant.scope not in SCOPES or len(grant.sha256) != 64:
        raise ValueError("bad token entry")
    return grant


def _save(path: Path, grants: list[Grant]) -> None:
    text = json.dumps({"tokens": [asdict(g) for g in grants]}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".server-", dir=path.parent)  # created with mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path``'s sidecar ``.lock`` file (flock; msvcrt on Windows)."""
    with open(path.with_name(path.name + ".lock"), "a+b") as f:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock
