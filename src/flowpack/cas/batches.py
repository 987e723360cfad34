"""The calling thread's open batch of writes (``Store.batch``), apart from the push code so
that a store opened for reading does not import the write path."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flowpack.cas.digest import Digest

if TYPE_CHECKING:
    from flowpack.cas.writer import Writer


class Batches(threading.local):
    """The calling thread's open batch (see ``Store.batch``): its writer and its manifests."""

    def __init__(self) -> None:
        self.writer: Writer | None = None
        self.manifests: dict[Digest, bytes] = {}  # written in the open batch, not uploaded yet
