"""`GitRemote`: a small git client over dulwich (ls-remote, fetch of exact commits, push with CAS).

Transports: smart HTTP(S) with Basic auth (a user name and a token as the password), SSH (the
``ssh`` program, its command taken from ``GIT_SSH_COMMAND`` or ``GIT_SSH`` like git, keys from
the environment / ssh agent) and ``file://`` (dulwich reads and writes the repository itself).
No ``git`` program runs on this side; over SSH the server side runs ``git-upload-pack`` /
``git-receive-pack`` as every git host does.

Every method opens a fresh dulwich client, so one ``GitRemote`` is safe to use from many
threads at once (dulwich clients must not be shared between overlapping pushes).  Errors are
translated at this edge (:mod:`flowpack.backends.git.errors`): rejected credentials ->
:class:`PermissionDenied`, no repository / ref / object -> :class:`NotFound`, an unreachable
host -> :class:`BackendError`.  :attr:`GitRemote.url` is redacted and safe to print.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from flowpack.backends.git.errors import translating
from flowpack.backends.git.tree import DEFAULT_MAX_FILE, GitSnapshot
from flowpack.cas.errors import NotFound, TransientBackendError, UsageError
from flowpack.cas.urls import redact

if TYPE_CHECKING:
    from dulwich.objects import ShaFile

#: dulwich's clients and object stores, used through their documented methods (dulwich types
#: its ids as NewTypes of bytes, which this module handles as plain bytes).
GitClient = Any
ObjectStore = Any

__all__ = ["ZERO_ID", "GitCredentials", "GitRemote", "is_object_id"]

ZERO_ID = "0" * 40
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[A-Za-z0-9.\-]+):(?P<path>[^/].*)$")
SCHEMES = ("http", "https", "ssh", "file")
_LOCK_WAIT = 10.0
#: Seconds an HTTP request may wait for the server before it fails (a hung server).  Whole
#: seconds, as git's ``http.timeout``: dulwich before 0.25 reads the setting with ``int()``.
HTTP_TIMEOUT = 120


def is_object_id(text: str) -> bool:
    """Whether ``text`` is a full 40-hex git object id (lowercase)."""
    return bool(_HEX40.match(text))


@dataclass(frozen=True)
class GitCredentials:
    """How to authenticate: HTTP Basic (``username`` + ``password``, usually a token) or SSH.

    ``ssh_command`` replaces ``ssh`` (default: ``GIT_SSH_COMMAND``, then ``GIT_SSH``, read when a
    connection is made).  ``repr`` never shows the password.
    """

    username: str | None = None
    password: str | None = None
    ssh_command: str | None = None

    def __repr__(self) -> str:
        shown = "***" if self.password else None
        return f"GitCredentials(username={self.username!r}, password={shown!r})"


class GitRemote:
    """One remote git repository, reached by URL (``http(s)://``, ``ssh://``, ``file://``,
    or scp-like ``user@host:path``).  Credentials in an http URL's user info are used and then
    dropped from it; explicit ``credentials`` win.  Thread-safe."""

    def __init__(self, url: str, credentials: GitCredentials | None = None) -> None:
        creds = credentials or GitCredentials()
        self._raw_url, self._kind, self._creds = _normalise(url, creds)
        self.url = redact(self._raw_url)

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """The secrets to mask in any message (the password or token)."""
        return (self._creds.password,)

    def ls_remote(self, prefix: str = "") -> dict[str, str]:
        """Every ref the server advertises (``HEAD`` included) -> its object id (hex); with
        ``prefix``, only refs starting with it (filtered by the server where it can).

        Raises :class:`PermissionDenied`, :class:`NotFound` (no repository), :class:`BackendError`.
        """
        with translating("cannot list the refs of", self.url, self.secrets):
            client, path = self._client()
            try:
                result = client.get_refs(path, ref_prefix=[prefix.encode()] if prefix else None)
            finally:
                _close(client)
        refs = getattr(result, "refs", result)
        return {
            k.decode(): v.decode()
            for k, v in refs.items()
            if v is not None and k.decode().startswith(prefix)
        }

    def resolve(self, ref: str | None = None, refs: Mapping[str, str] | None = None) -> str:
        """The commit id ``ref`` names: a full commit id as is, else ``HEAD`` (None), a full
        ``refs/...`` name, a branch or a tag (annotated tags peeled).  One ls-remote.

        Raises :class:`NotFound` naming the ref (never the credentials) when it does not exist.
        """
        if ref is not None and is_object_id(ref.lower()):
            return ref.lower()
        found = dict(refs) if refs is not None else self.ls_remote()
        name = ref or "HEAD"
        for candidate in (name, f"refs/heads/{name}", f"refs/tags/{name}"):
            peeled = found.get(candidate + "^{}") or found.get(candidate)
            if peeled:
                return peeled
        what = "has no HEAD" if ref is None else f"has no branch, tag or ref {ref!r}"
        raise NotFound(f"the git repository {self.url} {what}")

    def fetch(
        self,
        wants: Sequence[str],
        *,
        depth: int | None = None,
        filter_spec: str | None = None,
    ) -> ObjectStore:
        """Fetch exactly ``wants`` (object ids) into a new in-memory object store.

        ``depth`` makes the fetch shallow (1: the commits alone, no history); ``filter_spec``
        (``blob:none``, ``blob:limit=N``) asks the server to leave blobs out (partial fetch;
        ignored by servers without the ``filter`` feature).  Raises :class:`NotFound` when the
        server has no such object, plus the errors of :meth:`ls_remote`.
        """
        from dulwich.repo import MemoryRepo

        target: Any = MemoryRepo()
        if not wants:
            return target.object_store
        wanted = [w.encode("ascii") for w in wants]

        def determine_wants(refs: Mapping[bytes, bytes], depth: int | None = None) -> list[bytes]:
            return wanted

        with translating("cannot fetch from", self.url, self.secrets):
            client, path = self._client()
            try:
                client.fetch(
                    path,
                    target,
                    determine_wants=determine_wants,
                    depth=depth,
                    filter_spec=filter_spec.encode() if filter_spec else None,
                )
            finally:
                _close(client)
        for want in wanted:
            if want not in target.object_store:
                raise NotFound(f"the git repository {self.url} has no object {want.decode()}")
        return target.object_store

    def snapshot(
        self, ref: str | None = None, *, depth: int = 1, max_file: int = DEFAULT_MAX_FILE
    ) -> GitSnapshot:
        """The files of the commit ``ref`` resolves to, fetched shallow (``depth`` commits).

        Blobs larger than ``max_file`` are left on the server (``blob:limit``) and reading one
        raises :class:`UsageError`.  Raises what :meth:`resolve` and :meth:`fetch` raise.
        """
        commit = self.resolve(ref)
        store = self.fetch([commit], depth=max(depth, 1), filter_spec=f"blob:limit={max_file}")
        return GitSnapshot(store, commit, self.url)

    def push(
        self,
        updates: Mapping[str, tuple[str | None, str | None]],
        objects: Sequence[ShaFile] = (),
        *,
        atomic: bool = False,
    ) -> bool:
        """Compare-and-set refs: ``updates`` maps a ref to ``(expected old id, new id)`` (None:
        absent / delete), sending ``objects`` with them.

        The server (receive-pack) applies each update only if the ref still has the old id the
        command carries, under its ref lock, so the update is atomic.  Returns True when every
        update was applied, False (changing nothing it was told to keep, with ``atomic``) when a
        ref was not at its expected id or the server refused an update; dulwich reports refused
        updates per ref without raising, and that report is what is read here.
        """
        wanted = {k.encode(): (old, new) for k, (old, new) in updates.items()}
        state = {"stale": False}

        def update_refs(advertised: dict[bytes, bytes]) -> dict[bytes, bytes]:
            for ref, (old, _new) in wanted.items():
                current = advertised.get(ref)
                if (current.decode() if current else None) != old:
                    state["stale"] = True
                    return {}
            return {ref: (new or ZERO_ID).encode() for ref, (_old, new) in wanted.items()}

        def generate_pack_data(*args: Any, **kwargs: Any) -> Any:
            from dulwich.pack import pack_objects_to_data

            return pack_objects_to_data([(obj, None) for obj in objects])

        from dulwich.file import FileLocked

        extra = {"atomic": True} if atomic else {}
        deadline = time.monotonic() + _LOCK_WAIT
        with translating("cannot push to", self.url, self.secrets):
            while True:
                client, path = self._client()
                try:
                    result = client.send_pack(path, update_refs, generate_pack_data, **extra)
                    break
                except FileLocked:  # file://: another writer holds the ref's lock; wait
                    if time.monotonic() > deadline:
                        raise TransientBackendError(
                            f"cannot push to {self.url}: a ref stayed locked for {_LOCK_WAIT}s"
                        ) from None
                    time.sleep(random.uniform(0.001, 0.02))
                finally:
                    _close(client)
        if state["stale"]:
            return False
        statuses = getattr(result, "ref_status", None) or {}
        return all(statuses.get(ref) is None for ref in wanted)

    def _client(self) -> tuple[GitClient, str]:
        from dulwich.client import SSHGitClient, get_transport_and_path

        creds = self._creds
        if self._kind == "ssh":
            parts = urlsplit(self._raw_url)
            command = (
                creds.ssh_command
                or os.environ.get("GIT_SSH_COMMAND")
                or os.environ.get("GIT_SSH")
                or None
            )
            client = SSHGitClient(
                parts.hostname or "",
                port=parts.port,
                username=unquote(parts.username) if parts.username else None,
                ssh_command=command,
            )
            return client, unquote(parts.path)
        if self._kind == "file":
            return get_transport_and_path(self._raw_url)
        from dulwich.config import ConfigDict

        config = ConfigDict()
        config.set((b"http",), b"timeout", str(HTTP_TIMEOUT).encode())
        return get_transport_and_path(
            self._raw_url, config=config, username=creds.username, password=creds.password
        )


def _close(client: GitClient) -> None:
    """Close the client's connections (dulwich's clients before 0.25 have no ``close``; the
    Prefect 1.x pins, urllib3 < 1.27, allow no later dulwich)."""
    close = getattr(client, "close", None)
    if close is not None:
        close()


def _normalise(url: str, creds: GitCredentials) -> tuple[str, str, GitCredentials]:
    """(URL without a password, transport kind, credentials) for a git URL; UsageError if bad."""
    scp = _SCP_LIKE.match(url) if "://" not in url else None
    if scp:
        user = scp.group("user")
        netloc = f"{user}@{scp.group('host')}" if user else scp.group("host")
        return f"ssh://{netloc}/{scp.group('path')}", "ssh", creds
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (validates the port)
    except ValueError as exc:
        raise UsageError(f"not a git URL: {redact(url)}") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or (scheme != "file" and not parts.hostname):
        raise UsageError(
            f"not a git URL: {redact(url)} (use http(s)://, ssh://, file:// or user@host:path)"
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise UsageError(f"file:// git URLs name a local path: {redact(url)}")
        return urlunsplit(("file", "", parts.path, "", "")), "file", creds
    if scheme == "ssh":
        return urlunsplit(parts), "ssh", creds
    username = creds.username
    password = creds.password
    if parts.username is not None and username is None:
        username = unquote(parts.username)
    if parts.password is not None and password is None:
        password = unquote(parts.password)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit((scheme, netloc, parts.path, parts.query, ""))
    return clean, "http", GitCredentials(username, password, creds.ssh_command)
