"""`Git` and the base of the git-hosted seed classes: flows packed from a commit of a repository.

Every git storage is script storage: ``stored_as_script`` is always true, and passing
``stored_as_script=False`` raises ``ValueError`` (the seed: these classes "only support script
based storage").  Registration (``add_flow``, ``flowpack register``) resolves the configured ref
to a commit with one ls-remote, fetches exactly that commit (``clone_depth`` deep), writes its
files into a temporary directory and packs the flow file with its local import closure and
``include`` files *from that commit*, never from a working tree, into the registry store.  The
bundle's flow metadata names the repository (redacted), the commit and the path, so the bundle
says what it was made from.  ``get_flow`` loads the flow from that verified bundle.

Secrets are environment variable *names*, read when the repository is contacted; a token never
enters a bundle, record, log or message (clone URLs are redacted).

``Git(flow_path, repo=None, repo_host="github.com", flow_name=None, git_token_secret_name=None,
git_token_username=None, git_clone_url_secret_name=None, branch_name=None, tag=None,
commit=None, clone_depth=1, use_ssh=False, format_access_token=True, **kwargs)``:

- the clone URL is the value of ``git_clone_url_secret_name`` when given (any URL git accepts,
  ``file://`` and ``ssh://`` included; it overrides the other connection arguments); else
  ``git@HOST:REPO.git`` with ``use_ssh`` (keys from the environment, ``GIT_SSH_COMMAND``); else
  ``https://HOST/REPO.git``.  ``repo_host`` may carry a scheme and port (``http://host:8080``).
- ``format_access_token``: the token goes as the password of the host's user form: GitHub
  ``x-access-token``, GitLab ``oauth2``, Bitbucket ``x-token-auth``, else
  ``git_token_username`` or the repository's owner; without it the raw token is the user name.
- at most one of ``branch_name``, ``tag``, ``commit`` (``ValueError`` otherwise); none means the
  default branch's latest commit.  ``flow_name`` picks the flow in the file (default: first).
"""

from __future__ import annotations

import inspect
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError, MissingDependency, UsageError
from flowpack.cas.store import PushResult
from flowpack.cas.urls import redact
from flowpack.storage.base import Storage

if TYPE_CHECKING:
    from flowpack.backends.git import GitCredentials, GitRemote, GitSnapshot

__all__ = ["Git", "GitStorage", "read_secret"]

#: The user name each host expects with a token as the password.
TOKEN_USERS = {"github": "x-access-token", "gitlab": "oauth2", "bitbucket": "x-token-auth"}


def read_secret(name: str, what: str) -> str:
    """The value of environment variable ``name`` (a secret's name); one clear line if unset."""
    value = os.environ.get(name)
    if not value:
        raise FlowError(f"secret {name!r} ({what}) is not set in the environment")
    return value


class GitStorage(Storage):
    """Script storage packed from a commit of a git repository (see the module docstring).

    Subclasses say where the repository is (:meth:`clone_url`), how to authenticate
    (:meth:`credentials`), which ref to use (:meth:`git_ref`) and the flow file
    (:attr:`repo_path`).
    """

    clone_depth: int = 1
    #: Files larger than this stay on the server; a flow file over it is refused.
    max_file: int = 64 << 20

    def __init__(self, *, stored_as_script: bool = True, **kwargs: Any) -> None:
        if not stored_as_script:
            raise ValueError(
                f"{type(self).__name__} storage only supports script-based storage"
                " (stored_as_script cannot be False)"
            )
        super().__init__(stored_as_script=True, **kwargs)

    # -- what subclasses declare ---------------------------------------------------------

    @property
    def repo_path(self) -> str:
        """The flow file's path in the repository."""
        raise NotImplementedError

    def location_name(self) -> str | None:
        """The seed's location of an added flow: its path in the repository."""
        return self.repo_path

    def clone_url(self) -> str:
        """The URL to fetch from, without credentials."""
        raise NotImplementedError

    def credentials(self) -> GitCredentials:
        """Credentials read now from the environment (secrets are names)."""
        from flowpack.backends.git import GitCredentials

        return GitCredentials()

    def git_ref(self) -> str | None:
        """The branch, tag, ``refs/...`` name or commit id; None for the default branch."""
        return None

    def follow_config(self) -> dict[str, Any] | None:
        """How to rebuild this storage when a run follows the ref: the class name and its
        constructor arguments (secret *names*, never values); None when the ref is a commit id,
        which nothing can move."""
        from flowpack.backends.git import is_object_id

        ref = self.git_ref()
        if ref is not None and is_object_id(ref.lower()):
            return None
        names = inspect.signature(type(self).__init__).parameters
        args = {
            n: getattr(self, n)
            for n in names
            if n not in ("self", "kwargs") and hasattr(self, n) and getattr(self, n) is not None
        }
        if self.include:
            args["include"] = list(self.include)
        return {"class": type(self).__name__, "args": args}

    # -- registration ------------------------------------------------------------------

    def remote(self) -> GitRemote:
        """The repository, with credentials read now."""
        try:
            import dulwich  # noqa: F401  (the git extra)

            from flowpack.backends.git import GitRemote
        except ImportError as exc:
            raise MissingDependency(
                f"{type(self).__name__} storage needs dulwich: install it with:"
                " pip install 'flowpack[git]'"
            ) from exc
        return GitRemote(self.clone_url(), self.credentials())

    def snapshot(self) -> GitSnapshot:
        """The commit the ref resolves to now, fetched ``clone_depth`` deep."""
        remote = self.remote()
        return remote.snapshot(self.git_ref(), depth=self.clone_depth, max_file=self.max_file)

    def pack(self, flow: Any, *, source: Any = None, parent: Digest | None = None) -> PushResult:
        """Pack ``flow``'s file and its import closure from the commit (``source`` unused)."""
        return self.pack_commit(self.snapshot(), flow.name, parent=parent)

    def pack_commit(
        self, snap: GitSnapshot, name: str, *, parent: Digest | None = None
    ) -> PushResult:
        """Materialise commit ``snap`` in a temporary directory and script-pack flow ``name``."""
        from flowpack.backends.git import check_repo_path
        from flowpack.packer.bundle import flow_metadata
        from flowpack.packer.script import ScriptSource, script_files

        path = check_repo_path(self.repo_path.lstrip("/"))
        snap.read_file(path, max_size=self.max_file)  # one clear line: missing, unsafe, too big
        with tempfile.TemporaryDirectory(prefix="flowpack-git-") as tmp:
            root = snap.materialise(Path(tmp), max_size=self.max_file)
            script = ScriptSource.from_path(root / path, root=root)
            meta = flow_metadata(
                kind="script",
                name=name,
                entry=script.closure.entry,
                paths=list(script.closure.paths),
                git={
                    "repo": redact(snap.origin),
                    "commit": snap.commit_id,
                    "path": path,
                    "follow": self.follow_config(),
                },
            )
            files = script_files(script, self.include)
            return self.store.put_files(files, metadata=meta, parent=parent)


class Git(GitStorage):
    """Flows in ``.py`` files of any git repository (see the module docstring)."""

    def __init__(
        self,
        flow_path: str,
        repo: str | None = None,
        repo_host: str = "github.com",
        flow_name: str | None = None,
        git_token_secret_name: str | None = None,
        git_token_username: str | None = None,
        git_clone_url_secret_name: str | None = None,
        branch_name: str | None = None,
        tag: str | None = None,
        commit: str | None = None,
        clone_depth: int = 1,
        use_ssh: bool = False,
        format_access_token: bool = True,
        **kwargs: Any,
    ) -> None:
        if sum(x is not None for x in (branch_name, tag, commit)) > 1:
            raise ValueError("at most one of branch_name, tag and commit can be given")
        if repo is None and git_clone_url_secret_name is None:
            raise ValueError("either repo or git_clone_url_secret_name must be given")
        if clone_depth < 1:
            raise ValueError(f"clone_depth must be at least 1, not {clone_depth}")
        self.flow_path = flow_path
        self.repo = repo
        self.repo_host = repo_host
        self.flow_name = flow_name
        self.git_token_secret_name = git_token_secret_name
        self.git_token_username = git_token_username
        self.git_clone_url_secret_name = git_clone_url_secret_name
        self.branch_name = branch_name
        self.tag = tag
        self.commit = commit
        self.clone_depth = clone_depth
        self.use_ssh = use_ssh
        self.format_access_token = format_access_token
        super().__init__(**kwargs)

    @property
    def repo_path(self) -> str:
        return self.flow_path

    def git_ref(self) -> str | None:
        if self.tag is not None:
            return f"refs/tags/{self.tag}"
        if self.branch_name is not None:
            return f"refs/heads/{self.branch_name}"
        return self.commit

    def clone_url(self) -> str:
        if self.git_clone_url_secret_name:
            return read_secret(self.git_clone_url_secret_name, "the git clone URL")
        assert self.repo is not None
        repo = self.repo.strip("/").removesuffix(".git")
        host = self.repo_host.rstrip("/")
        if self.use_ssh:
            if "://" in host:
                return (
                    f"{host.replace('http://', 'ssh://').replace('https://', 'ssh://')}/{repo}.git"
                )
            return f"git@{host}:{repo}.git"
        base = host if "://" in host else f"https://{host}"
        return f"{base}/{repo}.git"

    def credentials(self) -> GitCredentials:
        from flowpack.backends.git import GitCredentials

        if self.git_clone_url_secret_name or self.use_ssh or not self.git_token_secret_name:
            return GitCredentials()
        token = read_secret(self.git_token_secret_name, "the git access token")
        if not self.format_access_token:
            return GitCredentials(username=token, password="")
        user = self.git_token_username or token_user(self.repo_host) or self._owner()
        return GitCredentials(username=user, password=token)

    def get_flow(self, name_or_location: str | None = None) -> Any:
        """As :meth:`Storage.get_flow`; with no argument, ``flow_name`` (or the only flow)."""
        if name_or_location is None and self.flow_name in self.flows:
            name_or_location = self.flow_name
        return super().get_flow(name_or_location)

    def _owner(self) -> str:
        owner = (self.repo or "").strip("/").split("/")[0]
        if not owner:
            raise UsageError("Git storage needs git_token_username (the repository has no owner)")
        return owner


def token_user(host: str) -> str | None:
    """The user name ``host`` expects with an access token (GitHub, GitLab, Bitbucket)."""
    low = host.lower()
    for name, user in TOKEN_USERS.items():
        if name in low:
            return user
    return None
