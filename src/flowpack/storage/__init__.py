"""The seed-compatible storage API: :class:`Storage` and one class per place flows are kept.

Every class keeps the seed's constructor arguments and meanings and stores flows as
content-addressed bundles: a flow's *location* is its bundle digest (``blake3:<hex>``).
This package holds ``Storage``, ``Local`` and ``Module``; each other backend class lives in
its own module here and derives from :class:`Storage` (see :mod:`flowpack.storage.base` for
what a subclass declares).
"""

from __future__ import annotations

from flowpack.storage.azure import Azure
from flowpack.storage.base import Storage
from flowpack.storage.codecommit import CodeCommit
from flowpack.storage.docker import Docker
from flowpack.storage.gcs import GCS
from flowpack.storage.git import Git
from flowpack.storage.githosts import Bitbucket, GitHub, GitLab
from flowpack.storage.local import Local
from flowpack.storage.module import Module
from flowpack.storage.s3 import S3
from flowpack.storage.webhook import Webhook

__all__ = [
    "GCS",
    "S3",
    "Azure",
    "Bitbucket",
    "CodeCommit",
    "Docker",
    "Git",
    "GitHub",
    "GitLab",
    "Local",
    "Module",
    "Storage",
    "Webhook",
]
