"""``git+file://``, ``git+http(s)://``, ``git+ssh://``: open a git repository as a store.

``git+https://user:TOKEN@host/org/repo.git`` carries HTTP Basic credentials in the URL (they are
redacted from :attr:`Location.url` and every message); options give them instead:
``username``, ``token`` (or ``password``), and ``ssh_command`` for ``git+ssh://`` (default: the
``GIT_SSH_COMMAND`` / ``GIT_SSH`` environment, as git).  The repository must exist (``git init
--bare`` for ``git+file://``; the host's own creation for the others).
"""

from __future__ import annotations

from typing import Any

from flowpack.backends.git.remote import GitCredentials, GitRemote
from flowpack.backends.git.store import GitBlobStore, GitRefStore
from flowpack.cas.errors import UsageError
from flowpack.cas.location import Location
from flowpack.cas.urls import redact

__all__ = ["open_git"]

_OPTIONS = {"username", "token", "password", "ssh_command", "cache_bytes"}


def open_git(url: str, **options: Any) -> Location:
    """Open the git repository at ``url`` (``git+<transport>://...``) as a :class:`Location`.

    Checks that the repository answers (one ls-remote).  Raises :class:`UsageError` for a URL
    of another scheme or an unknown option, :class:`PermissionDenied` for rejected
    credentials, :class:`NotFound` when no repository is there, :class:`BackendError` when the
    host cannot be reached.
    """
    unknown = set(options) - _OPTIONS
    if unknown:
        raise UsageError(f"git stores take no option {', '.join(sorted(unknown))}")
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.lower().startswith("git+"):
        raise UsageError(f"not a git store URL: {redact(url)} (git+file://, git+https://...)")
    token = options.get("token") or options.get("password")
    creds = GitCredentials(options.get("username"), token, options.get("ssh_command"))
    remote = GitRemote(f"{scheme[4:]}://{rest}", creds)
    remote.ls_remote("refs/flowpack/")
    blobs = GitBlobStore(remote, cache_bytes=int(options.get("cache_bytes", 64 << 20)))
    return Location(f"git+{remote.url}", blobs, GitRefStore(remote))
