"""`GCS`: flows kept in a Google Cloud Storage bucket.

``GCS(bucket, key=None, project=None, stored_as_script=False, local_script_path=None,
**kwargs)``, with the seed's meanings (see :mod:`flowpack.storage.bucket` for ``key``, script
mode and where the store lives).  Credentials come from where Google's libraries look
(application default credentials, ``gcloud``, the metadata server); ``STORAGE_EMULATOR_HOST``
points the storage at an emulator.  ``project`` is the project requests are billed to.  An
object at ``key`` is replaced when its content changes, as the seed did.

``client_options`` (flowpack's addition, as ``S3`` has): ``gcsfs.GCSFileSystem`` arguments,
e.g. ``{"endpoint_url": "http://127.0.0.1:4443", "token": "anon"}``.  A run that follows the
script at ``key`` connects with the same options less the credentials
(:func:`~flowpack.storage.credentials.public_options`; a ``token`` that names a way to find
credentials, ``anon``, ``google_default`` or ``cloud``, is kept).
"""

from __future__ import annotations

from typing import Any

from flowpack.storage.bucket import BucketStorage
from flowpack.storage.credentials import public_options

#: ``token`` values that name a way to find credentials rather than hold them.
TOKEN_MODES = ("anon", "google_default", "cloud")


class GCS(BucketStorage):
    """Flows in the GCS bucket ``bucket``."""

    scheme = "gs"
    SERIALIZED = ("bucket", "key", "project", "stored_as_script", "client_options")

    def __init__(
        self,
        bucket: str,
        key: str | None = None,
        project: str | None = None,
        stored_as_script: bool = False,
        local_script_path: str | None = None,
        *,
        client_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.project = project
        self.client_options = dict(client_options or {})
        super().__init__(
            bucket,
            key,
            stored_as_script=stored_as_script,
            local_script_path=local_script_path,
            overwrite=True,
            **kwargs,
        )

    def storage_options(self) -> dict[str, Any]:
        options = {"project": self.project} if self.project else {}
        return {**options, **self.client_options}

    def follow_args(self) -> dict[str, Any]:
        options = public_options(self.client_options)
        token = self.client_options.get("token")
        if token in TOKEN_MODES:
            options["token"] = token
        return {**super().follow_args(), "project": self.project, "client_options": options}
