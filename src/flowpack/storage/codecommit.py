"""`CodeCommit`: flows in ``.py`` files of an AWS CodeCommit repository, fetched over git.

``CodeCommit(repo, path=None, commit=None, client_options=None, **kwargs)``:

- ``repo``: the repository name; ``path``: the flow file in it; ``commit``: a commit id, tag,
  branch or ``refs/...`` name (None: the default branch's head), as in the seed.
- ``client_options``: the AWS client's options.  ``region_name`` (else the session's region)
  picks ``https://git-codecommit.REGION.amazonaws.com``; ``endpoint_url`` replaces that host;
  ``aws_access_key_id`` / ``aws_secret_access_key`` / ``aws_session_token`` / ``profile_name``
  choose the credentials (else botocore's usual chain).

Git over HTTPS authenticates with credentials derived from the botocore session, as
git-remote-codecommit does: the user name is the access key id (``%`` and the session token
appended when there is one) and the password ``<timestamp>Z<SigV4 signature>`` of the request
``GIT /v1/repos/REPO`` for the host, service ``codecommit``, signed at use time.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flowpack.cas.errors import MissingDependency, PermissionDenied, UsageError
from flowpack.storage.credentials import public_options
from flowpack.storage.git import GitStorage

if TYPE_CHECKING:
    from flowpack.backends.git import GitCredentials

__all__ = ["CodeCommit", "codecommit_password"]


def codecommit_password(
    secret_key: str, region: str, host: str, path: str, when: datetime.datetime
) -> str:
    """The git password for ``GIT https://host/path``, signed with SigV4 at ``when`` (UTC)."""
    stamp = when.strftime("%Y%m%dT%H%M%S")
    day = stamp[:8]
    canonical = f"GIT\n{path}\n\nhost:{host}\n\nhost\n"
    scope = f"{day}/{region}/codecommit/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, "codecommit", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{stamp}Z{signature}"


class CodeCommit(GitStorage):
    """Flows in ``.py`` files of the CodeCommit repository ``repo``."""

    def __init__(
        self,
        repo: str,
        path: str | None = None,
        commit: str | None = None,
        client_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.repo = repo
        self.path = path
        self.commit = commit
        self.client_options = dict(client_options or {})
        super().__init__(**kwargs)

    @property
    def repo_path(self) -> str:
        if not self.path:
            raise UsageError("CodeCommit storage needs path (the flow file in the repository)")
        return self.path

    def git_ref(self) -> str | None:
        return self.commit

    def follow_config(self) -> dict[str, Any] | None:
        """As :meth:`GitStorage.follow_config`, without credentials
        (:func:`~flowpack.storage.credentials.public_options`): runs use botocore's own chain."""
        config = super().follow_config()
        if config is not None and "client_options" in config["args"]:
            config["args"]["client_options"] = public_options(self.client_options)
        return config

    def region(self) -> str:
        """The region from ``client_options``, else the botocore session's."""
        region = self.client_options.get("region_name") or self._session().get_config_variable(
            "region"
        )
        if not region:
            raise UsageError("CodeCommit needs a region: client_options={'region_name': ...}")
        return str(region)

    def clone_url(self) -> str:
        endpoint = self.client_options.get("endpoint_url")
        base = endpoint or f"https://git-codecommit.{self.region()}.amazonaws.com"
        return f"{str(base).rstrip('/')}/v1/repos/{self.repo}"

    def credentials(self, when: datetime.datetime | None = None) -> GitCredentials:
        """Git credentials derived from the botocore session now (or at ``when``)."""
        from flowpack.backends.git import GitCredentials

        found = self._session().get_credentials()
        if found is None:
            raise PermissionDenied("CodeCommit: botocore found no AWS credentials")
        frozen = found.get_frozen_credentials()
        url = urlsplit(self.clone_url())
        when = when or datetime.datetime.now(datetime.timezone.utc)
        password = codecommit_password(frozen.secret_key, self.region(), url.netloc, url.path, when)
        user = frozen.access_key + (f"%{frozen.token}" if frozen.token else "")
        return GitCredentials(user, password)

    def _session(self) -> Any:
        """A botocore session with ``client_options``' profile, keys and region, as
        ``boto3.Session`` makes one (botocore comes with the s3 extra; boto3 is not needed)."""
        try:
            from botocore.session import Session
        except ImportError as exc:
            raise MissingDependency(
                "CodeCommit storage needs botocore: install it with: pip install 'flowpack[s3]'"
            ) from exc
        options = self.client_options
        session = Session(profile=options.get("profile_name"))
        keys = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
        if any(k in options for k in keys):
            session.set_credentials(*(options.get(k) for k in keys))
        if "region_name" in options:
            session.set_config_variable("region", options["region_name"])
        return session
