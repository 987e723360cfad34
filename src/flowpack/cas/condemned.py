"""Condemnation notices: the packs ``gc`` has found dead and will delete after a grace period.

A notice is a create-only blob ``gc/condemned-<hex>`` named by the blake3 of its bytes::

    msgpack {"v": 1, "time": <unix seconds>, "packs": [pack hash(32), ...]}

Every client reads the notices when it syncs its index: a condemned pack stays readable, but
writers treat its chunks as missing and store them again, so a push never relies on a pack
that ``gc`` may delete (see :mod:`flowpack.cas.gc` for the full protocol).  A notice that does
not decode is ignored by writers and replaced by ``gc``: packs are deleted only on the strength
of a notice that decodes, so ignoring a damaged one can never lose data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgpack

from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData, NotFound
from flowpack.cas.protocols import BlobStore

PREFIX = "gc/condemned-"
MAX_NOTICE = 64 << 20
#: A short-grace announcement: ``gc/short-grace-<unix seconds>``, an empty blob written by a
#: gc run with a grace under :data:`flowpack.cas.gc.MIN_GRACE` (see :mod:`flowpack.cas.gc`).
#: While one younger than :data:`MARKER_TTL` is listed, writers re-check before every ref
#: update (:mod:`flowpack.cas.recheck`).
MARKER_PREFIX = "gc/short-grace-"
MARKER_TTL = 86400.0


@dataclass(frozen=True)
class Notice:
    """Packs (by hex) condemned at ``time`` (seconds since the epoch)."""

    time: float
    packs: tuple[str, ...]

    def encode(self) -> bytes:
        out: bytes = msgpack.packb(
            {"packs": [bytes.fromhex(h) for h in sorted(self.packs)], "time": self.time, "v": 1},
            use_bin_type=True,
        )
        return out

    @classmethod
    def decode(cls, data: bytes, name: str = "?") -> Notice:
        try:
            if len(data) > MAX_NOTICE:
                raise MalformedData("too large")
            doc = msgpack.unpackb(data, raw=False)
            if doc["v"] != 1:
                raise MalformedData(f"unknown version {doc['v']}")
            packs = tuple(Digest.from_raw(bytes(h), 0).hex for h in doc["packs"])
            return cls(float(doc["time"]), packs)
        except (MalformedData, ValueError, TypeError, KeyError, msgpack.ExtraData) as exc:
            raise MalformedData(f"gc notice {name} does not decode: {exc}") from exc

    @property
    def key(self) -> str:
        """The blob key this notice is stored under."""
        return PREFIX + Digest.of(self.encode()).hex


@dataclass(frozen=True)
class Notices:
    """The notices a store holds: decoded ones by key, and the keys of damaged ones."""

    valid: dict[str, Notice]
    damaged: dict[str, str]
    markers: dict[str, float] = field(default_factory=dict)  # key -> announcement time

    def announced(self, now: float) -> list[float]:
        """The times of the short-grace announcements younger than :data:`MARKER_TTL`."""
        return sorted(t for t in self.markers.values() if now - t < MARKER_TTL)

    def condemned(self) -> frozenset[str]:
        """Every pack some valid notice condemns."""
        return frozenset(h for n in self.valid.values() for h in n.packs)

    def since(self) -> dict[str, float]:
        """For each condemned pack, the earliest time it was condemned."""
        out: dict[str, float] = {}
        for n in self.valid.values():
            for h in n.packs:
                out[h] = min(out.get(h, n.time), n.time)
        return out


def load_notices(blobs: BlobStore, known: Notices | None = None) -> Notices:
    """The notices (and short-grace markers) the store lists now, in one listing of ``gc/``;
    notices already in ``known`` are not fetched again."""
    valid: dict[str, Notice] = {}
    damaged: dict[str, str] = {}
    markers: dict[str, float] = {}
    for info in blobs.iter_keys("gc/"):
        key = info.key
        if key.startswith(MARKER_PREFIX) and key[len(MARKER_PREFIX) :].isdigit():
            markers[key] = float(key[len(MARKER_PREFIX) :])
            continue
        if not key.startswith(PREFIX):
            continue
        if known is not None and key in known.valid:
            valid[key] = known.valid[key]
            continue
        try:
            data = blobs.get(key)
        except NotFound:
            continue  # processed by a concurrent gc after the listing
        try:
            if Digest.of(data).hex != key[len(PREFIX) :]:
                raise MalformedData(f"gc notice {key} does not match its name")
            valid[key] = Notice.decode(data, key)
        except MalformedData as exc:
            damaged[key] = str(exc)
    return Notices(valid, damaged, markers)
