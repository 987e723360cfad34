"""The store's ``config`` blob: format version, hash, chunker identity, codec.

Written create-only by the first writer; every later client reads it and refuses to write
with different chunker parameters, which would silently break deduplication.

The config carries ``sum``: the blake3 of the msgpack encoding of its other fields (keys
sorted), so a flipped byte anywhere in it is detected (:class:`MalformedData` naming the
config).  A config written before ``sum`` existed has exactly the five older fields and still
loads; one with any other set of fields and no ``sum`` is refused as damaged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import blake3
import msgpack

from flowpack.cas.chunker import ChunkerParams
from flowpack.cas.errors import AlreadyExists, IncompatibleStore, MalformedData, NotFound
from flowpack.cas.protocols import BlobStore

#: The format of a store created now: frame headers list record sizes, pack trailers lay
#: frames out (:mod:`flowpack.cas.pack`).
FORMAT = "flowpack.store.v2"
#: The first format, still read and written as it is, so versions that know only it can keep
#: using a store they share (they refuse a store of the later format with a clear error).
FIRST_FORMAT = "flowpack.store.v1"
KEY = "config"
_FIELDS = ("chunker", "codec", "format", "hash", "id")


@dataclass(frozen=True)
class StoreConfig:
    """The decoded config of a store."""

    store_id: str
    chunker: ChunkerParams
    hash: str = "blake3"
    codec: str = "zstd"
    format: str = FORMAT

    @property
    def first_format(self) -> bool:
        """Whether packs are written in the first format (:mod:`flowpack.cas.pack`)."""
        return self.format == FIRST_FORMAT

    def encode(self) -> bytes:
        body = {
            "chunker": self.chunker.identity,
            "codec": self.codec,
            "format": self.format,
            "hash": self.hash,
            "id": self.store_id,
        }
        out: bytes = msgpack.packb({**body, "sum": _checksum(body)}, use_bin_type=True)
        return out

    @classmethod
    def decode(cls, data: bytes) -> StoreConfig:
        """The config in ``data``; :class:`MalformedData` if damaged (checksum, fields),
        :class:`IncompatibleStore` for a format this version does not read."""
        try:
            doc = msgpack.unpackb(data, raw=False)
            if not isinstance(doc, dict):
                raise TypeError("not a map")
            _check_sum(doc)
            cfg = cls(
                store_id=str(doc["id"]),
                chunker=ChunkerParams.from_identity(str(doc["chunker"])),
                hash=str(doc["hash"]),
                codec=str(doc["codec"]),
                format=str(doc["format"]),
            )
        except MalformedData:
            raise
        except (ValueError, TypeError, KeyError, msgpack.ExtraData) as exc:
            raise MalformedData(f"store config does not decode: {exc}") from exc
        if cfg.format not in (FORMAT, FIRST_FORMAT) or cfg.hash != "blake3" or cfg.codec != "zstd":
            raise IncompatibleStore(
                f"store format {cfg.format} ({cfg.hash}, {cfg.codec}) is not supported by this "
                "version of flowpack"
            )
        return cfg


def _checksum(body: dict[str, Any]) -> bytes:
    return blake3.blake3(msgpack.packb(dict(sorted(body.items())), use_bin_type=True)).digest()


def _check_sum(doc: dict[str, Any]) -> None:
    if "sum" not in doc:
        if tuple(sorted(doc)) != _FIELDS:
            raise MalformedData("store config is damaged: its fields are not a config's")
        return  # written before the checksum existed
    body = {k: v for k, v in doc.items() if k != "sum"}
    if doc["sum"] != _checksum(body):
        raise MalformedData("store config is damaged: its checksum does not match")


def load_config(blobs: BlobStore) -> StoreConfig | None:
    """The store's config, or None for an empty (not yet initialised) store."""
    try:
        return StoreConfig.decode(blobs.get(KEY))
    except NotFound:
        return None


def ensure_config(blobs: BlobStore, chunker: ChunkerParams | None = None) -> StoreConfig:
    """Load the config, creating it (create-only, so racing creators agree) if absent."""
    cfg = load_config(blobs)
    if cfg is None:
        fresh = StoreConfig(os.urandom(16).hex(), chunker or ChunkerParams())
        try:
            blobs.put(KEY, fresh.encode(), create_only=True)
        except AlreadyExists:
            pass
        cfg = load_config(blobs)
        assert cfg is not None
    if chunker is not None and chunker != cfg.chunker:
        raise IncompatibleStore(
            f"store uses chunker {cfg.chunker.identity}; refusing to write with {chunker.identity}"
        )
    return cfg
