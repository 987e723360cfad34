"""`S3`: flows kept in an S3 (or S3-compatible) bucket.

``S3(bucket, key=None, stored_as_script=False, local_script_path=None, client_options=None,
upload_options=None, **kwargs)``, with the seed's meanings (see
:mod:`flowpack.storage.bucket` for ``key``, script mode and where the store lives):

- credentials and endpoint come from where boto looks (``AWS_*`` variables, including
  ``AWS_ENDPOINT_URL`` for any compatible endpoint, profiles, instance roles), or from
  ``client_options``: the boto3 client's arguments (``endpoint_url``, ``region_name``,
  ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``...);
- ``upload_options``: extra arguments for every upload (the seed's ``ExtraArgs``, e.g.
  ``{"ServerSideEncryption": "AES256"}``).

A run that follows the script at ``key`` (:mod:`flowpack.storage.script_follow`) connects with
the same ``client_options`` less the credentials
(:func:`~flowpack.storage.credentials.public_options`): those it takes from where boto looks.

An object at ``key`` is replaced when its content changes, as the seed did.
"""

from __future__ import annotations

from typing import Any

from flowpack.storage.bucket import BucketStorage
from flowpack.storage.credentials import public_options


class S3(BucketStorage):
    """Flows in the S3 bucket ``bucket``."""

    scheme = "s3"
    SERIALIZED = ("bucket", "key", "stored_as_script", "client_options")

    def __init__(
        self,
        bucket: str,
        key: str | None = None,
        stored_as_script: bool = False,
        local_script_path: str | None = None,
        client_options: dict[str, Any] | None = None,
        upload_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.client_options = dict(client_options or {})
        self.upload_options = dict(upload_options or {})
        super().__init__(
            bucket,
            key,
            stored_as_script=stored_as_script,
            local_script_path=local_script_path,
            overwrite=True,
            **kwargs,
        )

    def follow_args(self) -> dict[str, Any]:
        """As :meth:`BucketStorage.follow_args`, with the ``client_options`` that say where to
        connect (``endpoint_url``, ``region_name``, ``config``...); keys, secrets and tokens are
        left out: a run takes them from where boto looks."""
        return {**super().follow_args(), "client_options": public_options(self.client_options)}

    def storage_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.client_options:
            options["client_kwargs"] = dict(self.client_options)
        if self.upload_options:
            options["s3_additional_kwargs"] = dict(self.upload_options)
        return options
