"""`GitHub`, `GitLab`, `Bitbucket`: git storage with each host's clone URL and token form.

All three are script storage packed from a commit (see :mod:`flowpack.storage.git`); a token
is read from the environment variable its ``*_secret`` argument names (default: the seed's
``GITHUB_ACCESS_TOKEN`` / ``GITLAB_ACCESS_TOKEN`` / ``BITBUCKET_ACCESS_TOKEN``, used only when
set) and sent as HTTP Basic auth in the host's form.

- ``GitHub(repo, path, ref=None, access_token_secret=None, base_url=None)``: clones
  ``https://github.com/REPO.git``; ``base_url`` (an Enterprise REST URL such as
  ``https://ghe.example.com/api/v3``) gives the host to clone from.  Token user
  ``x-access-token``.  ``ref`` defaults to the repository's default branch.
- ``GitLab(repo, host=None, path=None, ref=None, access_token_secret=None)``: ``host`` defaults
  to ``https://gitlab.com``; a numeric ``repo`` (a project ID) is resolved to its path with one
  REST call (``GET HOST/api/v4/projects/ID``).  Token user ``oauth2``.
- ``Bitbucket(project, repo, workspace=None, host=None, path=None, ref=None,
  access_token_secret=None, cloud_username_secret=None, cloud_app_password_secret=None)``:
  with ``workspace``, Bitbucket Cloud (``https://bitbucket.org/WORKSPACE/REPO.git``, a user name
  and app password from the two cloud secrets, default ``BITBUCKET_CLOUD_USERNAME`` /
  ``BITBUCKET_CLOUD_APP_PASSWORD``); else Bitbucket Server (``HOST/scm/PROJECT/REPO.git``, token
  user ``x-token-auth``).  ``workspace`` with ``access_token_secret`` raises ``ValueError``, and
  ``ref`` defaults to ``master``, as in the seed.

Hosts may carry a scheme and port (``http://127.0.0.1:8080``); without one, https is used.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from flowpack.cas.errors import BackendError, NotFound, PermissionDenied, UsageError
from flowpack.cas.urls import redact
from flowpack.storage.git import GitStorage, read_secret

if TYPE_CHECKING:
    from flowpack.backends.git import GitCredentials

__all__ = ["Bitbucket", "GitHub", "GitLab"]


def _base(host: str) -> str:
    host = host.rstrip("/")
    return host if "://" in host else f"https://{host}"


def _token(secret: str | None, default: str, what: str) -> str | None:
    """The token named by ``secret`` (must be set), else the default variable's if set."""
    if secret:
        return read_secret(secret, what)
    return os.environ.get(default) or None


class GitHub(GitStorage):
    """Flows in ``.py`` files of a GitHub (or GitHub Enterprise) repository."""

    def __init__(
        self,
        repo: str,
        path: str,
        ref: str | None = None,
        access_token_secret: str | None = None,
        base_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.repo = repo
        self.path = path
        self.ref = ref
        self.access_token_secret = access_token_secret
        self.base_url = base_url
        super().__init__(**kwargs)

    @property
    def repo_path(self) -> str:
        return self.path

    def git_ref(self) -> str | None:
        return self.ref

    def clone_url(self) -> str:
        host = "https://github.com"
        if self.base_url:
            parts = urlsplit(_base(self.base_url))
            netloc = parts.netloc.removeprefix("api.")
            host = f"{parts.scheme}://{netloc}"
        return f"{host}/{self.repo.strip('/').removesuffix('.git')}.git"

    def credentials(self) -> GitCredentials:
        from flowpack.backends.git import GitCredentials

        token = _token(self.access_token_secret, "GITHUB_ACCESS_TOKEN", "the GitHub token")
        return GitCredentials("x-access-token", token) if token else GitCredentials()


class GitLab(GitStorage):
    """Flows in ``.py`` files of a GitLab repository (``repo`` a path or a project ID)."""

    def __init__(
        self,
        repo: str,
        host: str | None = None,
        path: str | None = None,
        ref: str | None = None,
        access_token_secret: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.repo = str(repo)
        self.host = host
        self.path = path
        self.ref = ref
        self.access_token_secret = access_token_secret
        super().__init__(**kwargs)

    @property
    def repo_path(self) -> str:
        if not self.path:
            raise UsageError("GitLab storage needs path (the flow file in the repository)")
        return self.path

    def git_ref(self) -> str | None:
        return self.ref

    def _host(self) -> str:
        return _base(self.host or "https://gitlab.com")

    def _token(self) -> str | None:
        return _token(self.access_token_secret, "GITLAB_ACCESS_TOKEN", "the GitLab token")

    def clone_url(self) -> str:
        repo = self.repo.strip("/").removesuffix(".git")
        if repo.isdigit():
            repo = self.project_path(repo)
        return f"{self._host()}/{repo}.git"

    def project_path(self, project_id: str) -> str:
        """``namespace/project`` of project ``project_id``: one REST call to the host."""
        url = f"{self._host()}/api/v4/projects/{quote(project_id)}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        token = self._token()
        if token:
            request.add_header("PRIVATE-TOKEN", token)
        shown = redact(url)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                found = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise PermissionDenied(f"GitLab refused the token for {shown}") from None
            if exc.code == 404:
                raise NotFound(f"GitLab has no project {project_id} ({shown})") from None
            raise BackendError(f"GitLab answered {exc.code} for {shown}") from None
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot reach GitLab at {shown}: {type(exc).__name__}") from None
        path = found.get("path_with_namespace") if isinstance(found, dict) else None
        if not isinstance(path, str) or not path:
            raise BackendError(f"GitLab's answer for {shown} names no path_with_namespace")
        return path

    def credentials(self) -> GitCredentials:
        from flowpack.backends.git import GitCredentials

        token = self._token()
        return GitCredentials("oauth2", token) if token else GitCredentials()


class Bitbucket(GitStorage):
    """Flows in ``.py`` files of a Bitbucket Server or Bitbucket Cloud repository."""

    def __init__(
        self,
        project: str,
        repo: str,
        workspace: str | None = None,
        host: str | None = None,
        path: str | None = None,
        ref: str | None = None,
        access_token_secret: str | None = None,
        cloud_username_secret: str | None = None,
        cloud_app_password_secret: str | None = None,
        **kwargs: Any,
    ) -> None:
        if workspace and access_token_secret:
            raise ValueError(
                "Bitbucket Cloud (workspace) takes cloud_username_secret and"
                " cloud_app_password_secret, not access_token_secret"
            )
        self.project = project
        self.repo = repo
        self.workspace = workspace
        self.host = host
        self.path = path
        self.ref = ref
        self.access_token_secret = access_token_secret
        self.cloud_username_secret = cloud_username_secret
        self.cloud_app_password_secret = cloud_app_password_secret
        super().__init__(**kwargs)

    @property
    def repo_path(self) -> str:
        if not self.path:
            raise UsageError("Bitbucket storage needs path (the flow file in the repository)")
        return self.path

    def git_ref(self) -> str | None:
        return self.ref or "master"

    def clone_url(self) -> str:
        repo = self.repo.strip("/").removesuffix(".git")
        if self.workspace:
            return f"{_base(self.host or 'https://bitbucket.org')}/{self.workspace}/{repo}.git"
        if not self.host:
            raise UsageError("Bitbucket Server storage needs host (or workspace for Cloud)")
        return f"{_base(self.host)}/scm/{self.project}/{repo}.git"

    def credentials(self) -> GitCredentials:
        from flowpack.backends.git import GitCredentials

        if self.workspace:
            user = _token(
                self.cloud_username_secret, "BITBUCKET_CLOUD_USERNAME", "the Bitbucket user"
            )
            password = _token(
                self.cloud_app_password_secret,
                "BITBUCKET_CLOUD_APP_PASSWORD",
                "the Bitbucket app password",
            )
            return GitCredentials(user, password) if user and password else GitCredentials()
        token = _token(self.access_token_secret, "BITBUCKET_ACCESS_TOKEN", "the Bitbucket token")
        return GitCredentials("x-token-auth", token) if token else GitCredentials()
